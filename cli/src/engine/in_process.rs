//! DataFusion linked into this process (feature `engine`).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTableUrl};
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::{Engine, EngineResult, ParquetTable, SessionOptions};
use crate::CliError;

/// A DataFusion session and the runtime its calls run on.
pub(super) struct InProcess {
    runtime: tokio::runtime::Runtime,
    ctx: SessionContext,
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl InProcess {
    pub(super) fn new(options: &SessionOptions) -> Result<InProcess, CliError> {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let mut env = datafusion::execution::runtime_env::RuntimeEnvBuilder::new();
        if let Some(mb) = options.memory_mb {
            env = env.with_memory_pool(Arc::new(datafusion::execution::memory_pool::FairSpillPool::new(
                mb << 20,
            )));
        }
        let env = env.build_arc().map_err(|e| CliError::Engine(e.to_string()))?;
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), env);
        crate::sql_functions::register(&ctx);
        Ok(InProcess { runtime, ctx })
    }
}

impl Engine for InProcess {
    fn register_parquet(&self, table: ParquetTable<'_>) -> EngineResult<()> {
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(table.partition_cols.to_vec());
        let register = self
            .ctx
            .register_listing_table(table.name, table.location, options, Some(table.schema), None);
        self.runtime.block_on(register).map_err(text)
    }

    fn register_batch(&self, name: &str, batch: RecordBatch) -> EngineResult<()> {
        self.ctx.register_batch(name, batch).map(drop).map_err(text)
    }

    fn deregister(&self, name: &str) -> EngineResult<()> {
        self.ctx.deregister_table(name).map(drop).map_err(text)
    }

    fn execute(&self, sql: &str) -> EngineResult<()> {
        self.runtime.block_on(self.ctx.sql(sql)).map(drop).map_err(text)
    }

    fn query(&self, sql: &str, read_only: bool, max_rows: Option<usize>) -> EngineResult<Vec<RecordBatch>> {
        let options = SQLOptions::new()
            .with_allow_ddl(!read_only)
            .with_allow_dml(!read_only)
            .with_allow_statements(!read_only);
        self.runtime.block_on(async {
            let df = self.ctx.sql_with_options(sql, options).await.map_err(text)?;
            let df = match max_rows {
                Some(n) => df.limit(0, Some(n)).map_err(text)?,
                None => df,
            };
            df.collect().await.map_err(text)
        })
    }

    fn schema(&self, sql: &str) -> EngineResult<SchemaRef> {
        let frame = self.runtime.block_on(self.ctx.sql(sql)).map_err(text)?;
        Ok(Arc::new(frame.schema().as_arrow().clone()))
    }

    fn register_object_store(&self, url: &str, store: Arc<dyn object_store::ObjectStore>) -> EngineResult<()> {
        let parsed = ListingTableUrl::parse(url).map_err(text)?;
        self.ctx.register_object_store(parsed.object_store().as_ref(), store);
        Ok(())
    }
}
