//! Where schema ids come from.
//!
//! - [`SchemaCatalog::Bundled`]: no registry; version N of `schemas/avro/` has id N.
//! - [`SchemaCatalog::Registry`]: a Confluent schema registry, reached through
//!   `schema_registry_converter`; the current schema is registered (or found) under
//!   the subject `<topic>-value`, and writer schemas are fetched by id.

use crate::avro::{self, AvroError};
use apache_avro::Schema;
use schema_registry_converter::async_impl::schema_registry::{
    get_schema_by_id, post_schema, SrSettings,
};
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{SchemaType, SuppliedSchema};
use std::time::Duration;

/// A schema id that cannot be resolved, or a registry that cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The bundled catalog has no schema with this id.
    #[error("no bundled schema has id {0}")]
    UnknownBundledId(u32),
    /// The registry refused or could not be reached.
    #[error("schema registry")]
    Registry(#[source] SRCError),
    /// Registering needs a registry, and none is configured.
    #[error("no schema registry configured")]
    NoRegistry,
    /// The registry returned a schema that does not parse.
    #[error(transparent)]
    Avro(#[from] AvroError),
}

/// The source of schema ids.
pub enum SchemaCatalog {
    /// The schemas bundled in this crate, with fixed ids.
    Bundled,
    /// A Confluent-compatible schema registry.
    Registry(Box<SrSettings>),
}

impl CatalogError {
    /// Whether asking again later may succeed: the registry was unreachable or
    /// failing. Only a registry that answered that the schema does not exist (HTTP 404)
    /// or refused it (422), or an id unknown to the bundled catalog, is a permanent
    /// answer; a payload whose schema cannot be found that way is undecodable for good.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Registry(error) => {
                let permanent = ["status 404", "status 422"]
                    .iter()
                    .any(|status| error.error.contains(status));
                !permanent
            }
            Self::UnknownBundledId(_) | Self::NoRegistry | Self::Avro(_) => false,
        }
    }
}

impl std::fmt::Debug for SchemaCatalog {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bundled => formatter.write_str("SchemaCatalog::Bundled"),
            Self::Registry(_) => formatter.write_str("SchemaCatalog::Registry"),
        }
    }
}

impl SchemaCatalog {
    /// A registry catalog when a URL is given, the bundled one otherwise.
    pub fn from_registry_url(url: Option<&str>) -> Result<Self, CatalogError> {
        match url.filter(|url| !url.is_empty()) {
            None => Ok(Self::Bundled),
            Some(url) => SrSettings::new_builder(url.to_owned())
                .set_timeout(Duration::from_secs(5))
                .build()
                .map(|settings| Self::Registry(Box::new(settings)))
                .map_err(CatalogError::Registry),
        }
    }

    /// The subject the tag topic's values are registered under.
    pub fn subject_for_topic(topic: &str) -> String {
        format!("{topic}-value")
    }

    /// Registers (or finds) the current schema under `subject` and returns its id.
    pub async fn current_schema_id(&self, subject: &str) -> Result<u32, CatalogError> {
        match self {
            Self::Bundled => Ok(avro::current_version().version),
            Self::Registry(_) => self.register(subject, avro::current_version().text).await,
        }
    }

    /// Registers `schema` under `subject` (the registry checks compatibility) and
    /// returns its id. Only a registry catalog can register.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, CatalogError> {
        let Self::Registry(settings) = self else {
            return Err(CatalogError::NoRegistry);
        };
        let supplied = SuppliedSchema::new(
            Some("com.allezon.analytics.UserTag".to_owned()),
            SchemaType::Avro,
            schema.to_owned(),
        );
        post_schema(settings, subject.to_owned(), supplied)
            .await
            .map(|registered| registered.id)
            .map_err(CatalogError::Registry)
    }

    /// The schema a payload with this id was written with.
    pub async fn schema_by_id(&self, id: u32) -> Result<Schema, CatalogError> {
        match self {
            Self::Bundled => {
                let version = avro::VERSIONS
                    .iter()
                    .find(|version| version.version == id)
                    .ok_or(CatalogError::UnknownBundledId(id))?;
                Ok(avro::parse_schema(version.text)?)
            }
            Self::Registry(settings) => {
                let registered = get_schema_by_id(id, settings)
                    .await
                    .map_err(CatalogError::Registry)?;
                Ok(avro::parse_schema(&registered.schema)?)
            }
        }
    }
}
