//! The OpenAPI document is generated from the code; any change to it shows up here for review.

#[test]
fn the_openapi_document_is_reviewed() {
    insta::assert_json_snapshot!("openapi", api::openapi_document());
}
