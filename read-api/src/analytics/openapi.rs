//! The OpenAPI description of `/v1/`, generated from the handlers' annotations and the
//! answers' types.

use super::answers::{SeriesAnswer, SeriesPoint, TopAnswer, TopRow, Totals};
use super::ingest::{IngestAnswer, PeerStatus};
use super::newest::NewestAnswer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Allezon Analytics: the analysts' API",
        description = "Time series, top-N, shoppers and ingest figures beside the contract's \
                       endpoints. Times are UTC, YYYY-MM-DDTHH:MM:SS. A key is needed when the \
                       server has any (X-Api-Key, Bearer, or the password of Basic)."
    ),
    paths(
        super::routes::series,
        super::routes::top,
        super::routes::shopper,
        super::routes::ingest,
        super::newest::newest
    ),
    components(schemas(
        SeriesAnswer,
        SeriesPoint,
        TopAnswer,
        TopRow,
        Totals,
        IngestAnswer,
        PeerStatus,
        NewestAnswer
    )),
    modifiers(&Security)
)]
struct Document;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// The description.
pub fn document() -> utoipa::openapi::OpenApi {
    Document::openapi()
}
