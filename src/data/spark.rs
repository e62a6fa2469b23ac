//! Spark Connect: SQL sent to a Spark cluster (Apache Spark, Databricks, Sail…), the small result
//! read back as Arrow IPC by polars' own stream reader (no second Arrow stack).
//!
//! The transport is the ASF's `apache-spark-connect-core` (gRPC over tonic, the connection string
//! as Spark defines it: `sc://host:port/;token=…;use_ssl=true;user_id=…;x-header=…`); a token is
//! sent only over TLS or to a loopback address. Nothing here prints; no error shows the token.

use polars::prelude::*;
use spark_connect_core::{ChannelBuilder, SparkConnectClient};
use spark_connect_proto as proto;

/// A session on a Spark Connect server.
pub struct Spark {
    client: SparkConnectClient,
    runtime: tokio::runtime::Runtime,
    /// The server as it may be shown: host and port, no parameters.
    shown: String,
    /// Views this session made (their names are numbered).
    views: std::sync::atomic::AtomicUsize,
}

/// The connection string as it may be shown: `sc://host:port`, without its parameters (a token).
pub fn shown_url(url: &str) -> String {
    url.split(['/', ';']).filter(|p| !p.is_empty()).nth(1).map_or_else(|| "sc://".into(), |h| format!("sc://{h}"))
}

/// The token a connection string carries (`;token=…`), if any: a secret.
pub fn token_of(url: &str) -> Option<&str> {
    url.split(';').find_map(|p| p.strip_prefix("token=")).filter(|t| !t.is_empty())
}

impl Spark {
    /// Open a session, in UTC.
    pub fn connect(url: &str) -> Result<Spark, String> {
        let shown = shown_url(url);
        let builder = ChannelBuilder::parse(url).map_err(|e| format!("'{shown}…': {}", first_line(&e.to_string())))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut client = runtime
            .block_on(SparkConnectClient::connect(&builder))
            .map_err(|e| format!("cannot connect to {shown}: {}", first_line(&e.to_string())))?;
        // A gate fails fast: three retries within 30 s, not the reference client's hour.
        client.set_retry_policy(spark_connect_core::RetryPolicy {
            max_retries: Some(3),
            initial_backoff_ms: 500,
            max_backoff_ms: Some(4000),
            max_retry_exception_elapsed_time_ms: Some(30_000),
            ..Default::default()
        });
        // Datetime literals and values read as UTC, as polars reads a datetime without a zone.
        runtime.block_on(client.set_config("spark.sql.session.timeZone", "UTC")).map_err(|e| failure(&shown, &e))?;
        // Apache Spark 4's parquet reader drops every row group of a column whose statistics hold a
        // null count but no min and max (as polars writes a column with NaN) when a filter is
        // pushed down to it: `x IS NOT NULL` finds no row. The gate scans whole tables anyway.
        runtime
            .block_on(client.set_config("spark.sql.parquet.filterPushdown", "false"))
            .map_err(|e| failure(&shown, &e))?;
        Ok(Spark { client, runtime, shown, views: Default::default() })
    }

    /// The server, as errors name it.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// A temporary view (this session's only) of the CSV files at `path` (a path or glob the
    /// cluster reads), each read with its header, the columns' types inferred by Spark from
    /// every row; its name, for a query's `FROM`.
    pub fn csv_view(&self, path: &str) -> Result<String, String> {
        let n = self.views.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("ml_gates_csv_{n}");
        let path = super::sql::text(path);
        self.sql(&format!(
            "CREATE OR REPLACE TEMPORARY VIEW {name} USING csv OPTIONS (path {path}, header 'true', inferSchema 'true')"
        ))?;
        Ok(name)
    }

    /// Run one SQL statement; its result as one frame (empty for a statement without rows).
    pub fn sql(&self, query: &str) -> Result<DataFrame, String> {
        let plan = proto::Plan {
            op_type: Some(proto::plan::OpType::Root(proto::Relation {
                common: None,
                rel_type: Some(proto::relation::RelType::Sql(proto::Sql {
                    query: query.to_string(),
                    ..Default::default()
                })),
            })),
        };
        let operation = uuid4();
        let user_context = Some(proto::UserContext {
            // The user the client configures its session as (`set_config`): a session is a user's.
            user_id: self.client.user_id().unwrap_or_default().to_string(),
            ..Default::default()
        });
        let client_type = Some(format!("ml-gates/{}", env!("CARGO_PKG_VERSION")));
        let reattachable = proto::execute_plan_request::RequestOption {
            request_option: Some(proto::execute_plan_request::request_option::RequestOption::ReattachOptions(
                proto::ReattachOptions { reattachable: true },
            )),
        };
        let request = proto::ExecutePlanRequest {
            session_id: self.client.session_id().to_string(),
            user_context: user_context.clone(),
            plan: Some(plan),
            client_type: client_type.clone(),
            operation_id: Some(operation.clone()),
            request_options: vec![reattachable],
            ..Default::default()
        };
        // A reattachable execution, as Spark's own clients run one: a server may end a stream
        // before the answer is whole (a long query, a time limit on one stream), and the client
        // asks for the rest after the last response it read, until `ResultComplete` (Sail 0.7
        // ends a long query's first stream after its schema).
        let batches = self.runtime.block_on(async {
            use proto::execute_plan_response::ResponseType;
            let mut stream = self.client.execute_plan(request).await?;
            let (mut batches, mut last, mut schema) = (Vec::new(), None::<String>, None);
            for _ in 0..10_000 {
                while let Some(response) =
                    stream.message().await.map_err(spark_connect_core::SparkError::from_grpc_status)?
                {
                    last = Some(response.response_id.clone());
                    schema = response.schema.or(schema);
                    match response.response_type {
                        Some(ResponseType::ArrowBatch(batch)) => batches.push(batch.data),
                        Some(ResponseType::ResultComplete(_)) => {
                            let release = proto::ReleaseExecuteRequest {
                                session_id: self.client.session_id().to_string(),
                                user_context: user_context.clone(),
                                operation_id: operation.clone(),
                                client_type: client_type.clone(),
                                release: Some(proto::release_execute_request::Release::ReleaseAll(
                                    proto::release_execute_request::ReleaseAll {},
                                )),
                                ..Default::default()
                            };
                            // Only frees the server's copy of the answer: a failure changes nothing here.
                            let _ = self.client.release_execute(release).await;
                            return Ok((batches, schema));
                        }
                        _ => {}
                    }
                }
                let reattach = proto::ReattachExecuteRequest {
                    session_id: self.client.session_id().to_string(),
                    user_context: user_context.clone(),
                    operation_id: operation.clone(),
                    client_type: client_type.clone(),
                    last_response_id: last.clone(),
                    ..Default::default()
                };
                stream = self.client.reattach_execute(reattach).await?;
            }
            Err(spark_connect_core::SparkError::connect_msg("the answer never completed"))
        });
        let (batches, schema) = batches.map_err(|e| failure(&self.shown, &e))?;
        // No rows and no batch (Sail answers `LIMIT 0` so): the columns from the answer's schema.
        if batches.is_empty() {
            return Ok(schema.map(|s| DataFrame::empty_with_schema(&schema_of(&s))).unwrap_or_default());
        }
        let mut frame: Option<DataFrame> = None;
        for data in batches {
            let part = IpcStreamReader::new(std::io::Cursor::new(data))
                .finish()
                .map_err(|e| format!("{}: an answer polars cannot read: {e}", self.shown))?;
            match &mut frame {
                Some(f) => {
                    f.vstack_mut(&part).map_err(|e| e.to_string())?;
                }
                None => frame = Some(part),
            }
        }
        Ok(frame.unwrap_or_default())
    }
}

/// A Spark schema (a struct) as polars reads the same columns from Arrow.
fn schema_of(spark: &proto::DataType) -> Schema {
    use proto::data_type::Kind;
    let mut schema = Schema::default();
    let Some(Kind::Struct(fields)) = &spark.kind else { return schema };
    for field in &fields.fields {
        let dtype = match field.data_type.as_ref().and_then(|d| d.kind.as_ref()) {
            Some(Kind::Boolean(_)) => DataType::Boolean,
            Some(Kind::Byte(_)) => DataType::Int8,
            Some(Kind::Short(_)) => DataType::Int16,
            Some(Kind::Integer(_)) => DataType::Int32,
            Some(Kind::Long(_)) => DataType::Int64,
            Some(Kind::Float(_)) => DataType::Float32,
            Some(Kind::Double(_)) => DataType::Float64,
            Some(Kind::String(_) | Kind::Char(_) | Kind::VarChar(_)) => DataType::String,
            Some(Kind::Date(_)) => DataType::Date,
            Some(Kind::Timestamp(_)) => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
            Some(Kind::TimestampNtz(_)) => DataType::Datetime(TimeUnit::Microseconds, None),
            Some(Kind::Binary(_)) => DataType::Binary,
            _ => DataType::Null,
        };
        schema.insert(field.name.as_str().into(), dtype);
    }
    schema
}

/// A random UUID (version 4), as Spark wants an operation's id.
fn uuid4() -> String {
    let hex = crate::core::digest::random_hex();
    let b = hex.as_bytes();
    let s = |r: std::ops::Range<usize>| String::from_utf8_lossy(&b[r]).to_string();
    let variant = ["8", "9", "a", "b"][usize::from_str_radix(&s(16..17), 16).unwrap_or(0) % 4];
    format!("{}-{}-4{}-{variant}{}-{}", s(0..8), s(8..12), s(13..16), s(17..20), s(20..32))
}

/// What a failed call to the server at `shown` says: that nothing answers there, or the engine's
/// own first line.
fn failure(shown: &str, e: &spark_connect_core::SparkError) -> String {
    let text = first_line(&e.to_string());
    match text.contains("tcp connect error") || text.contains("Connection refused") {
        true => format!("cannot reach {shown}: nothing answers there (is the Spark Connect server running?)"),
        false => format!("{shown}: {text}"),
    }
}

/// The first line of a server's error, at most 500 characters (a Spark stack trace is long).
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_parameters() {
        assert_eq!(shown_url("sc://db.example.com:443/;token=dapi123;use_ssl=true"), "sc://db.example.com:443");
        assert_eq!(shown_url("sc://127.0.0.1:15002"), "sc://127.0.0.1:15002");
        assert_eq!(token_of("sc://h:443/;use_ssl=true;token=dapi123;user_id=x"), Some("dapi123"));
        assert_eq!(token_of("sc://h:443/;token="), None);
        assert_eq!(token_of("sc://h:15002"), None);
    }
}
