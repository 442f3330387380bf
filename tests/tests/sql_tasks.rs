//! SQL tasks in a built binary against real databases: SQLite files, and a PostgreSQL server
//! from Debian's package that the test starts in a scratch folder (`tests/setup.sh` installs
//! it; where it is not installed the PostgreSQL test says so and stops). `FETCH`, `FETCH_ONE`,
//! `STORE` (Ion rows, read back by the next task), `parameters`, `Queries` in a transaction,
//! Kestra's column types, a bad statement failing with the server's words,
//! and `COPY` in and out.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kflow_tests::{build_yamls, scratch_dir, summary_of, task_run};
use serde_json::json;

const SQLITE: &str = r#"id: sqlite_tasks
namespace: kflow.tests
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: setup
        type: io.kestra.plugin.jdbc.sqlite.Queries
        url: jdbc:sqlite:shop.db
        outputDbFile: true
        sql: |
          create table items (id integer primary key, name text, price real, note text);
          insert into items (name, price, note) values ('pen', 1.5, 'it''s blue; and cheap');
          insert into items (name, price, note) values ('book', 12.0, null);
          select count(*) as n from items;
        fetchType: FETCH_ONE
  - id: one
    type: io.kestra.plugin.jdbc.sqlite.Query
    sqliteFile: "{{ outputs.setup.databaseUri }}"
    sql: select name, price from items where id = :id
    parameters:
      id: 2
    fetchType: FETCH_ONE
  - id: all
    type: io.kestra.plugin.jdbc.sqlite.Query
    sqliteFile: "{{ outputs.setup.databaseUri }}"
    sql: select id, name, note from items order by id
    fetchType: FETCH
  - id: stored
    type: io.kestra.plugin.jdbc.sqlite.Query
    sqliteFile: "{{ outputs.setup.databaseUri }}"
    sql: select id, name, price from items order by id
    fetchType: STORE
  - id: read_back
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.stored.uri) }}"
  - id: broken
    type: io.kestra.plugin.jdbc.sqlite.Query
    allowFailure: true
    sql: select * from nowhere
"#;

const POSTGRES: &str = r#"id: postgres_tasks
namespace: kflow.tests
inputs:
  - id: url
    type: STRING
tasks:
  - id: setup
    type: io.kestra.plugin.jdbc.postgresql.Queries
    url: "{{ inputs.url }}"
    username: kflow
    sql: |
      create table orders (
        id serial primary key, customer text, amount numeric(10, 2), paid boolean,
        placed timestamptz, day date, tags text[], meta jsonb, ref uuid
      );
      insert into orders (customer, amount, paid, placed, day, tags, meta, ref) values
        ('ada', 12.50, true, '2024-03-01 10:00:00+00', '2024-03-01', '{a,b}', '{"vip": true}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
        ('bob', -3.25, false, '2024-03-02 11:30:00+01', '2024-03-02', '{}', null, null);
      select count(*) as n from orders;
    fetchType: FETCH_ONE
  - id: typed
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: "{{ inputs.url }}"
    username: kflow
    sql: select * from orders where customer = :who
    parameters:
      who: ada
    fetchType: FETCH_ONE
  - id: stored
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: "{{ inputs.url }}"
    username: kflow
    sql: select customer, amount from orders order by id
    fetchType: STORE
  - id: read_back
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.stored.uri) }}"
  - id: rolled_back
    type: io.kestra.plugin.jdbc.postgresql.Queries
    allowFailure: true
    url: "{{ inputs.url }}"
    username: kflow
    sql: |
      insert into orders (customer) values ('ghost');
      select * from missing_table;
  - id: count
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: "{{ inputs.url }}"
    username: kflow
    sql: select count(*) as n from orders
    fetchType: FETCH_ONE
  - id: csv
    type: io.kestra.plugin.core.storage.Write
    extension: .csv
    content: |
      customer,amount
      carl,4.00
      "dee
      dee",5.50
  - id: copy_in
    type: io.kestra.plugin.jdbc.postgresql.CopyIn
    url: "{{ inputs.url }}"
    username: kflow
    table: orders
    columns: [customer, amount]
    format: CSV
    header: true
    from: "{{ outputs.csv.uri }}"
  - id: copy_out
    type: io.kestra.plugin.jdbc.postgresql.CopyOut
    url: "{{ inputs.url }}"
    username: kflow
    format: CSV
    header: true
    sql: select customer, amount from orders where amount > 0 order by id
  - id: copied
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.copy_out.uri) }}"
"#;

fn run(bin: &Path, state: &Path, flow: &str, inputs: &[&str]) -> Output {
    let mut command = Command::new(bin);
    command.args(["run", flow, "--state"]).arg(state);
    for input in inputs {
        command.args(["--input", input]);
    }
    command.output().expect("the binary runs")
}

#[test]
fn sqlite_queries_fetch_store_and_pass_the_database_on() {
    let bin = build_yamls("sqlite_tasks", &[("sqlite_tasks", SQLITE)]);
    let state = scratch_dir("sqlite").join("state");
    let out = run(&bin, &state, "sqlite_tasks", &[]);
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "WARNING", "{summary:#}\n{stderr}");
    let setup = &task_run(&summary, "setup")["outputs"];
    // The `;` inside the quoted note did not split the statement; only the select has rows.
    assert_eq!(setup["outputs"], json!([{"row": {"n": 2}, "size": 1}]));
    assert!(setup["databaseUri"]
        .as_str()
        .unwrap()
        .starts_with("kestra:///"));
    assert_eq!(
        task_run(&summary, "one")["outputs"],
        json!({"row": {"name": "book", "price": 12.0}, "size": 1})
    );
    assert_eq!(
        task_run(&summary, "all")["outputs"]["rows"],
        json!([
            {"id": 1, "name": "pen", "note": "it's blue; and cheap"},
            {"id": 2, "name": "book", "note": null}
        ])
    );
    assert_eq!(task_run(&summary, "stored")["outputs"]["size"], 2);
    assert_eq!(
        task_run(&summary, "read_back")["outputs"]["value"],
        "{id:1,name:\"pen\",price:1.5e0}\n{id:2,name:\"book\",price:12e0}\n"
    );
    assert_eq!(task_run(&summary, "broken")["state"], "WARNING");
    assert!(stderr.contains("no such table: nowhere"), "{stderr}");
}

/// A PostgreSQL server of Debian's package in `dir`, on a free port; stopped when dropped.
struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl Postgres {
    fn start(dir: &Path) -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").is_file())?;
        std::fs::create_dir_all(dir).unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let pg = Postgres {
            dir: dir.to_path_buf(),
            bin,
            port,
        };
        // initdb refuses root: as root, the server runs as Debian's `postgres` user.
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n");
        if root {
            assert!(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir)
                .status()
                .unwrap()
                .success());
        }
        let data = dir.join("data");
        assert!(Postgres::as_owner(
            root,
            &pg.bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "kflow",
                "--no-sync"
            ]
        )
        .success());
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.display()
        );
        assert!(
            Postgres::as_owner(
                root,
                &pg.bin.join("pg_ctl"),
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-o",
                    &options,
                    "-l",
                    dir.join("log").to_str().unwrap(),
                    "-w",
                    "start"
                ]
            )
            .success(),
            "{}",
            std::fs::read_to_string(dir.join("log")).unwrap_or_default()
        );
        Some(pg)
    }

    fn as_owner(root: bool, program: &Path, args: &[&str]) -> std::process::ExitStatus {
        let mut command = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("runs")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n");
        let data = self.dir.join("data");
        let _ = Self::as_owner(
            root,
            &self.bin.join("pg_ctl"),
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
    }
}

#[test]
fn postgres_queries_read_kestras_column_types_and_roll_back_on_error() {
    let dir = scratch_dir("postgres");
    let Some(pg) = Postgres::start(&dir) else {
        eprintln!("PostgreSQL is not installed (tests/setup.sh installs Debian's package): the PostgreSQL test is skipped");
        return;
    };
    let bin = build_yamls("postgres_tasks", &[("postgres_tasks", POSTGRES)]);
    let url = format!("url=jdbc:postgresql://127.0.0.1:{}/postgres", pg.port);
    let out = run(&bin, &dir.join("state"), "postgres_tasks", &[&url]);
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "WARNING", "{summary:#}\n{stderr}");
    assert_eq!(
        task_run(&summary, "setup")["outputs"]["outputs"],
        json!([{"row": {"n": 2}, "size": 1}])
    );
    assert_eq!(
        task_run(&summary, "typed")["outputs"]["row"],
        json!({
            "id": 1, "customer": "ada", "amount": 12.5, "paid": true,
            "placed": "2024-03-01T10:00:00Z", "day": "2024-03-01", "tags": ["a", "b"],
            "meta": {"vip": true}, "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        })
    );
    assert_eq!(
        task_run(&summary, "read_back")["outputs"]["value"],
        "{customer:\"ada\",amount:12.5e0}\n{customer:\"bob\",amount:-3.25e0}\n"
    );
    // The failing statement rolled the insert before it back, and said why.
    assert_eq!(task_run(&summary, "rolled_back")["state"], "WARNING");
    assert!(
        stderr.contains("relation \"missing_table\" does not exist"),
        "{stderr}"
    );
    assert_eq!(task_run(&summary, "count")["outputs"]["row"]["n"], 2);
    // COPY in from a stored CSV (a quoted line break kept), and out to one.
    assert_eq!(task_run(&summary, "copy_in")["outputs"]["rowCount"], 2);
    assert_eq!(task_run(&summary, "copy_out")["outputs"]["rowCount"], 3);
    assert_eq!(
        task_run(&summary, "copied")["outputs"]["value"],
        "customer,amount\nada,12.50\ncarl,4.00\n\"dee\ndee\",5.50\n"
    );
}

const DUCKDB: &str = r#"id: duckdb_tasks
namespace: kflow.tests
tasks:
  - id: load
    type: io.kestra.plugin.jdbc.duckdb.Queries
    url: jdbc:duckdb:sales.duckdb
    outputDbFile: true
    inputFiles:
      data.csv: |
        region,amount
        north,10
        south,25
        north,5
    sql: |
      create table sales as select * from read_csv_auto('{{ workingDir }}/data.csv');
      select region, sum(amount)::bigint as total from sales group by region order by region;
      select * from sales where amount > :floor;
    parameters:
      floor: 1000
    fetchType: FETCH
  - id: stored
    type: io.kestra.plugin.jdbc.duckdb.Query
    databaseUri: "{{ outputs.load.databaseUri }}"
    sql: select region, amount from sales order by amount desc
    fetchType: STORE
  - id: read_back
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.stored.uri) }}"
  - id: broken
    type: io.kestra.plugin.jdbc.duckdb.Query
    allowFailure: true
    sql: select * from nowhere
"#;

/// DuckDB through its command-line tool, installed from `PyPI` (`duckdb-cli`) in a virtualenv
/// put first on `PATH`; and without it, the error naming the missing tool.
#[test]
fn duckdb_queries_run_through_duckdbs_command_line_tool() {
    let dir = scratch_dir("duckdb");
    std::fs::create_dir_all(&dir).unwrap();
    let venv = kflow_tests::venv(&dir, &["duckdb-cli"]);
    let bin = build_yamls("duckdb_tasks", &[("duckdb_tasks", DUCKDB)]);
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(&bin)
        .args(["run", "duckdb_tasks", "--state"])
        .arg(dir.join("state"))
        .env("PATH", &path)
        .output()
        .expect("the binary runs");
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "WARNING", "{summary:#}\n{stderr}");
    let load = &task_run(&summary, "load")["outputs"];
    assert_eq!(
        load["outputs"],
        json!([
            {"rows": [{"region": "north", "total": 15}, {"region": "south", "total": 25}], "size": 2},
            {"rows": [], "size": 0}
        ])
    );
    assert_eq!(
        task_run(&summary, "read_back")["outputs"]["value"],
        "{region:\"south\",amount:25}\n{region:\"north\",amount:10}\n{region:\"north\",amount:5}\n"
    );
    assert_eq!(task_run(&summary, "broken")["state"], "WARNING");
    assert!(
        stderr.contains("Table with name nowhere does not exist"),
        "{stderr}"
    );

    // Without the tool on PATH: the error names it and how to install it.
    let out = Command::new(&bin)
        .args(["run", "duckdb_tasks", "--state"])
        .arg(dir.join("state"))
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary_of(&out)["state"], "FAILED", "{stderr}");
    assert!(stderr.contains("`duckdb` is not on PATH"), "{stderr}");
    assert!(stderr.contains("pip install duckdb-cli"), "{stderr}");
}
