//! An axum application with a flow inside, on one address (`APP_LISTEN`): its own routes (one
//! of which runs the flow and answers with its typed output) and the flow's webhook trigger,
//! whose routes kflow hands to the application's router. Ctrl-C stops both; kflow drains
//! running executions first.
//!
//! ```sh
//! cargo run
//! curl 'localhost:3000/quote?quantity=4'
//! curl -X POST -H 'content-type: application/json' -d '{"quantity": 2}' \
//!   localhost:3000/api/v1/main/executions/webhook/kflow.examples/quote/orders
//! ```

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;

kflow::include_flow!("flows/quote.yml");

#[derive(serde::Deserialize)]
struct QuoteQuery {
    quantity: Option<i64>,
}

/// Runs the flow for this request and answers with its `total` output.
async fn price(
    State(runner): State<Arc<kflow::Runner>>,
    Query(query): Query<QuoteQuery>,
) -> String {
    let mut inputs = quote::Inputs::new();
    inputs.quantity = query.quantity;
    match quote::run_on(&runner, inputs).await {
        Ok(execution) => match execution.outputs {
            Some(outputs) => format!("{}\n", outputs.total),
            None => format!(
                "execution {} ended {}\n",
                execution.id,
                execution.state.as_str()
            ),
        },
        Err(error) => format!("error: {error}\n"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app_listen = std::env::var("APP_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let state = std::env::var("STATE_DIR").unwrap_or_else(|_| "target/kflow-state".into());
    let runner = Arc::new(kflow::Runner::new().state_dir(state));

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let app_stopped = {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let webhook_stopped = {
        let mut stopped = stopped;
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });

    // The flow's triggers: its webhook's routes join the application's.
    let (webhooks, triggers) =
        quote::serve_routes(&runner, kflow::ServeOptions::default(), webhook_stopped).await?;
    let app = Router::new()
        .route("/", get(|| async { "a shop with a flow inside\n" }))
        .route("/quote", get(price))
        .with_state(Arc::clone(&runner))
        .merge(webhooks);
    let listener = tokio::net::TcpListener::bind(&app_listen).await?;
    println!("app on http://{}", listener.local_addr()?);

    let (served, triggers) = tokio::join!(
        axum::serve(listener, app).with_graceful_shutdown(app_stopped),
        triggers,
    );
    served?;
    triggers?;
    Ok(())
}
