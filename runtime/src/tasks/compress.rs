//! Kestra's `compress` plugin: `ArchiveCompress` and `ArchiveDecompress` (ZIP, JAR, TAR, with
//! an optional compression around a TAR), `FileCompress` and `FileDecompress` (one file).
//!
//! Compressions: GZIP, DEFLATE (zlib's format, as Kestra's), BZIP2 and ZSTD, in pure Rust
//! (flate2's miniz, bzip2's Rust port, ruzstd: zstd writes its fastest level). Kestra's other
//! algorithms (7z, AR, CPIO, LZ4, XZ, Snappy, Brotli, ...) are refused by the checker.
//!
//! Extracting is bounded: an entry whose path leaves the archive (`../`, absolute) fails the
//! task, and so do more than [`MAX_ENTRIES`] entries or more than [`MAX_EXTRACTED`] bytes (a
//! small archive can expand to fill a disk). The extracted files are stored under their paths
//! in the archive; `files` maps each path to its URI.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::definition::{out, prop, OutputDef, PluginDef, PropDef, PropType::*, ValueType};

/// The archive formats kflow writes and reads.
pub const ALGORITHMS: &[&str] = &["ZIP", "JAR", "TAR"];
/// The compressions kflow writes and reads.
pub const COMPRESSIONS: &[&str] = &["GZIP", "DEFLATE", "BZIP2", "ZSTD"];

/// The most entries an archive may have to be extracted.
pub const MAX_ENTRIES: usize = 100_000;
/// The most bytes extracting or decompressing may write (16 GiB).
pub const MAX_EXTRACTED: u64 = 16 << 30;

static ARCHIVE_COMPRESS_PROPS: &[PropDef] = &[
    prop("from", OneOf(&[Map(&String), String])).required(),
    prop("algorithm", Enum(ALGORITHMS)).required(),
    prop("compression", Enum(COMPRESSIONS)),
];
static ARCHIVE_DECOMPRESS_PROPS: &[PropDef] = &[
    prop("from", String).required(),
    prop("algorithm", Enum(ALGORITHMS)).required(),
    prop("compression", Enum(COMPRESSIONS)),
];
static FILE_PROPS: &[PropDef] = &[
    prop("from", String).required(),
    prop("compression", Enum(COMPRESSIONS)).required(),
];

static URI_OUTPUT: &[OutputDef] = &[out("uri", ValueType::Uri)];
static FILES_OUTPUT: &[OutputDef] = &[out("files", ValueType::Map(&ValueType::Uri))];

pub const ARCHIVE_COMPRESS: usize = 0;
pub const ARCHIVE_DECOMPRESS: usize = 1;
pub const FILE_COMPRESS: usize = 2;
pub const FILE_DECOMPRESS: usize = 3;

/// The properties of the four tasks (each type's definition says which it has).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompressProps {
    pub from: Value,
    #[serde(default)]
    pub algorithm: Option<Value>,
    #[serde(default)]
    pub compression: Option<Value>,
}

/// One compress task: `KIND` is one of the constants above.
#[derive(Debug)]
pub struct Compress<const KIND: usize>(pub CompressProps);

impl<'de, const KIND: usize> Deserialize<'de> for Compress<KIND> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CompressProps::deserialize(deserializer).map(Compress)
    }
}

impl<const KIND: usize> Compress<KIND> {
    pub const DEFINITION: PluginDef = (match KIND {
        ARCHIVE_COMPRESS => PluginDef::runnable_task(
            "io.kestra.plugin.compress.ArchiveCompress",
            &[],
            ARCHIVE_COMPRESS_PROPS,
            URI_OUTPUT,
        ),
        ARCHIVE_DECOMPRESS => PluginDef::runnable_task(
            "io.kestra.plugin.compress.ArchiveDecompress",
            &[],
            ARCHIVE_DECOMPRESS_PROPS,
            FILES_OUTPUT,
        ),
        FILE_COMPRESS => PluginDef::runnable_task(
            "io.kestra.plugin.compress.FileCompress",
            &[],
            FILE_PROPS,
            URI_OUTPUT,
        ),
        _ => PluginDef::runnable_task(
            "io.kestra.plugin.compress.FileDecompress",
            &[],
            FILE_PROPS,
            URI_OUTPUT,
        ),
    })
    .with_feature("compress");
}

pub type ArchiveCompress = Compress<ARCHIVE_COMPRESS>;
pub type ArchiveDecompress = Compress<ARCHIVE_DECOMPRESS>;
pub type FileCompress = Compress<FILE_COMPRESS>;
pub type FileDecompress = Compress<FILE_DECOMPRESS>;

/// `uri` (a compressed file or archive) or `files` (an extracted archive).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompressOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<std::string::String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Map<std::string::String, Value>>,
}

#[cfg(feature = "compress")]
mod run {
    use std::io::{Read, Seek, Write};
    use std::path::{Component, Path, PathBuf};

    use serde_json::{Map, Value};

    use super::{
        Compress, CompressOutput, ARCHIVE_COMPRESS, ARCHIVE_DECOMPRESS, FILE_COMPRESS, MAX_ENTRIES,
        MAX_EXTRACTED,
    };
    use crate::expr::value::to_display_string;
    use crate::tasks::props::optional_text;
    use crate::tasks::{Task, TaskContext, TaskError};

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Codec {
        Gzip,
        Deflate,
        Bzip2,
        Zstd,
    }

    impl Codec {
        fn of(value: Option<&Value>) -> Result<Option<Codec>, TaskError> {
            let Some(name) = optional_text(value).filter(|n| !n.is_empty()) else {
                return Ok(None);
            };
            Ok(Some(match name.as_str() {
                "GZIP" => Codec::Gzip,
                "DEFLATE" => Codec::Deflate,
                "BZIP2" => Codec::Bzip2,
                "ZSTD" => Codec::Zstd,
                other => {
                    return Err(format!(
                        "`compression: {other}`: kflow compresses with GZIP, DEFLATE, BZIP2 or ZSTD"
                    )
                    .into())
                }
            }))
        }

        fn extension(self) -> &'static str {
            match self {
                Codec::Gzip => "gz",
                Codec::Deflate => "deflate",
                Codec::Bzip2 => "bz2",
                Codec::Zstd => "zst",
            }
        }

        fn decoder<'r>(self, reader: impl Read + 'r) -> Result<Box<dyn Read + 'r>, TaskError> {
            Ok(match self {
                Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
                Codec::Deflate => Box::new(flate2::read::ZlibDecoder::new(reader)),
                Codec::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
                Codec::Zstd => Box::new(
                    ruzstd::decoding::StreamingDecoder::new(reader)
                        .map_err(|e| format!("not a zstd stream: {e}"))?,
                ),
            })
        }

        /// Compresses all of `input` into `output`.
        fn encode(self, input: &mut dyn Read, output: impl Write) -> std::io::Result<()> {
            match self {
                Codec::Gzip => {
                    let mut encoder =
                        flate2::write::GzEncoder::new(output, flate2::Compression::default());
                    std::io::copy(input, &mut encoder)?;
                    encoder.finish()?.flush()
                }
                Codec::Deflate => {
                    let mut encoder =
                        flate2::write::ZlibEncoder::new(output, flate2::Compression::default());
                    std::io::copy(input, &mut encoder)?;
                    encoder.finish()?.flush()
                }
                Codec::Bzip2 => {
                    let mut encoder =
                        bzip2::write::BzEncoder::new(output, bzip2::Compression::default());
                    std::io::copy(input, &mut encoder)?;
                    encoder.finish()?.flush()
                }
                Codec::Zstd => {
                    let mut output = output;
                    ruzstd::encoding::compress(
                        input,
                        &mut output,
                        ruzstd::encoding::CompressionLevel::Fastest,
                    );
                    output.flush()
                }
            }
        }
    }

    /// A temporary file, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(extension: &str) -> Scratch {
            Scratch(std::env::temp_dir().join(format!(
                "kflow-compress-{}.{extension}",
                crate::execution::new_id()
            )))
        }

        fn create(&self) -> Result<std::fs::File, TaskError> {
            std::fs::File::create(&self.0)
                .map_err(|e| TaskError::from(format!("a temporary file: {e}")))
        }

        fn store(&self, ctx: &TaskContext<'_>, name: &str) -> Result<String, TaskError> {
            let mut file = std::fs::File::open(&self.0)
                .map_err(|e| TaskError::from(format!("a temporary file: {e}")))?;
            ctx.put_file(name, &mut file)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Reads at most `MAX_EXTRACTED` bytes in all, then fails (a decompression bomb).
    struct Bounded<'a, R> {
        inner: R,
        left: &'a mut u64,
    }

    impl<R: Read> Read for Bounded<'_, R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            let n64 = n as u64;
            if n64 > *self.left {
                return Err(std::io::Error::other(format!(
                    "the content expands to more than {} GiB",
                    MAX_EXTRACTED >> 30
                )));
            }
            *self.left -= n64;
            Ok(n)
        }
    }

    fn io(context: &str) -> impl Fn(std::io::Error) -> TaskError + '_ {
        move |e| TaskError::from(format!("{context}: {e}"))
    }

    impl<const KIND: usize> Task for Compress<KIND> {
        type Output = CompressOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<CompressOutput, TaskError> {
            let props = &self.0;
            let codec = Codec::of(props.compression.as_ref())?;
            let algorithm = optional_text(props.algorithm.as_ref()).unwrap_or_default();
            match KIND {
                ARCHIVE_COMPRESS => archive(&props.from, &algorithm, codec, ctx),
                ARCHIVE_DECOMPRESS => extract(&props.from, &algorithm, codec, ctx),
                _ => {
                    let codec = codec.ok_or("`compression` is required")?;
                    let from = to_display_string(&props.from);
                    let input = ctx
                        .storage()?
                        .open(&from)
                        .map_err(|e| format!("`from`: {e}"))?;
                    let stem = Path::new(&from)
                        .file_name()
                        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
                    let scratch = Scratch::new("out");
                    let name = if KIND == FILE_COMPRESS {
                        let mut input = input;
                        codec
                            .encode(&mut input, std::io::BufWriter::new(scratch.create()?))
                            .map_err(io("compressing"))?;
                        format!("{stem}.{}", codec.extension())
                    } else {
                        let mut left = MAX_EXTRACTED;
                        let mut reader = Bounded {
                            inner: codec.decoder(std::io::BufReader::new(input))?,
                            left: &mut left,
                        };
                        let mut out = std::io::BufWriter::new(scratch.create()?);
                        std::io::copy(&mut reader, &mut out).map_err(io("decompressing"))?;
                        out.flush().map_err(io("decompressing"))?;
                        stem.strip_suffix(&format!(".{}", codec.extension()))
                            .map_or_else(|| stem.clone(), str::to_string)
                    };
                    Ok(CompressOutput {
                        uri: Some(scratch.store(ctx, &name)?),
                        files: None,
                    })
                }
            }
        }
    }

    /// `from`: a map of name to URI (or its JSON text).
    fn sources(from: &Value) -> Result<Vec<(String, String)>, TaskError> {
        let map = match from {
            Value::Object(map) => map.clone(),
            Value::String(text) => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => map,
                _ => return Err("`from` must be a map of file name to URI".into()),
            },
            other => return Err(format!("`from` must be a map, got {other}").into()),
        };
        map.into_iter()
            .map(|(name, uri)| {
                if safe_path(&name).is_none() {
                    return Err(format!("`from`: `{name}` is not a relative file name").into());
                }
                Ok((name, to_display_string(&uri)))
            })
            .collect()
    }

    /// `name` as a relative path inside the archive, or `None` when it leaves it.
    fn safe_path(name: &str) -> Option<PathBuf> {
        let path = Path::new(name);
        let mut clean = PathBuf::new();
        for component in path.components() {
            match component {
                Component::Normal(part) => clean.push(part),
                Component::CurDir => {}
                _ => return None,
            }
        }
        (!clean.as_os_str().is_empty()).then_some(clean)
    }

    fn archive(
        from: &Value,
        algorithm: &str,
        codec: Option<Codec>,
        ctx: &TaskContext<'_>,
    ) -> Result<CompressOutput, TaskError> {
        let files = sources(from)?;
        let storage = ctx.storage()?;
        let (scratch, name) = match algorithm {
            "ZIP" | "JAR" => {
                if codec.is_some() {
                    return Err("`compression` goes with TAR: a ZIP compresses its entries".into());
                }
                let scratch = Scratch::new("zip");
                let mut zip = zip::ZipWriter::new(scratch.create()?);
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .large_file(true);
                for (name, uri) in &files {
                    let mut input = storage.open(uri).map_err(|e| format!("`from`: {e}"))?;
                    zip.start_file(name.as_str(), options)
                        .map_err(|e| format!("writing the archive: {e}"))?;
                    std::io::copy(&mut input, &mut zip).map_err(io("writing the archive"))?;
                }
                zip.finish()
                    .map_err(|e| format!("writing the archive: {e}"))?;
                let extension = if algorithm == "JAR" { "jar" } else { "zip" };
                (scratch, format!("archive.{extension}"))
            }
            "TAR" => {
                let scratch = Scratch::new("tar");
                let file = std::io::BufWriter::new(scratch.create()?);
                let build = |out: &mut dyn Write| -> std::io::Result<()> {
                    let mut tar = tar::Builder::new(out);
                    for (name, uri) in &files {
                        let mut input = storage
                            .open(uri)
                            .map_err(|e| std::io::Error::other(format!("`from`: {e}")))?;
                        let mut header = tar::Header::new_gnu();
                        header.set_size(input.metadata()?.len());
                        header.set_mode(0o644);
                        header.set_mtime(0);
                        header.set_cksum();
                        tar.append_data(&mut header, name, &mut input)?;
                    }
                    tar.finish()
                };
                match codec {
                    None => {
                        let mut file = file;
                        build(&mut file).map_err(io("writing the archive"))?;
                        file.flush().map_err(io("writing the archive"))?;
                    }
                    Some(codec) => {
                        // The TAR first, then compressed as one stream.
                        let plain = Scratch::new("tar");
                        let mut out = std::io::BufWriter::new(plain.create()?);
                        build(&mut out).map_err(io("writing the archive"))?;
                        out.flush().map_err(io("writing the archive"))?;
                        drop(out);
                        let mut input = std::fs::File::open(&plain.0).map_err(io("the archive"))?;
                        codec
                            .encode(&mut input, file)
                            .map_err(io("compressing the archive"))?;
                    }
                }
                let name = match codec {
                    None => "archive.tar".to_string(),
                    Some(codec) => format!("archive.tar.{}", codec.extension()),
                };
                (scratch, name)
            }
            other => {
                return Err(format!("`algorithm: {other}`: kflow writes ZIP, JAR or TAR").into())
            }
        };
        Ok(CompressOutput {
            uri: Some(scratch.store(ctx, &name)?),
            files: None,
        })
    }

    fn extract(
        from: &Value,
        algorithm: &str,
        codec: Option<Codec>,
        ctx: &TaskContext<'_>,
    ) -> Result<CompressOutput, TaskError> {
        let from = to_display_string(from);
        let input = ctx
            .storage()?
            .open(&from)
            .map_err(|e| format!("`from`: {e}"))?;
        let mut files = Map::new();
        let mut left = MAX_EXTRACTED;
        let mut store = |name: &str, reader: &mut dyn Read| {
            if files.len() >= MAX_ENTRIES {
                return Err(TaskError::from(format!(
                    "the archive has more than {MAX_ENTRIES} entries"
                )));
            }
            let path = safe_path(name).ok_or_else(|| {
                TaskError::from(format!("the entry `{name}` leaves the archive's folder"))
            })?;
            let key = path.to_string_lossy().into_owned();
            let mut bounded = Bounded {
                inner: reader,
                left: &mut left,
            };
            let uri = ctx.put_file(&key, &mut bounded)?;
            files.insert(key, Value::String(uri));
            Ok(())
        };
        match algorithm {
            "ZIP" | "JAR" => {
                if codec.is_some() {
                    return Err("`compression` goes with TAR: a ZIP compresses its entries".into());
                }
                extract_zip(input, &mut store)?;
            }
            "TAR" => {
                let reader: Box<dyn Read> = match codec {
                    None => Box::new(std::io::BufReader::new(input)),
                    Some(codec) => codec.decoder(std::io::BufReader::new(input))?,
                };
                let mut tar = tar::Archive::new(reader);
                for entry in tar.entries().map_err(io("reading the archive"))? {
                    let mut entry = entry.map_err(io("reading the archive"))?;
                    let kind = entry.header().entry_type();
                    if kind.is_dir() {
                        continue;
                    }
                    if !kind.is_file() {
                        // Links and devices are not files to store.
                        continue;
                    }
                    let name = entry
                        .path()
                        .map_err(io("reading the archive"))?
                        .to_string_lossy()
                        .into_owned();
                    store(&name, &mut entry)?;
                }
            }
            other => {
                return Err(format!("`algorithm: {other}`: kflow reads ZIP, JAR or TAR").into())
            }
        }
        Ok(CompressOutput {
            uri: None,
            files: Some(files),
        })
    }

    /// Stores one extracted entry under its name.
    type Store<'s> = dyn FnMut(&str, &mut dyn Read) -> Result<(), TaskError> + 's;

    fn extract_zip(input: impl Read + Seek, store: &mut Store<'_>) -> Result<(), TaskError> {
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(input))
            .map_err(|e| format!("not a ZIP archive: {e}"))?;
        if zip.len() > MAX_ENTRIES {
            return Err(format!("the archive has more than {MAX_ENTRIES} entries").into());
        }
        for index in 0..zip.len() {
            let mut entry = zip
                .by_index(index)
                .map_err(|e| format!("reading the archive: {e}"))?;
            if entry.is_dir() {
                continue;
            }
            let name = entry
                .name()
                .map_err(|e| format!("reading the archive: {e}"))?
                .into_owned();
            store(&name, &mut entry)?;
        }
        Ok(())
    }
}
