//! The OpenAPI document is generated from the code; any change to it shows up here for review.

#[test]
fn the_openapi_document_is_reviewed() {
    insta::assert_json_snapshot!("openapi", api::openapi_document());
}

/// Every `$ref` names a schema the document holds (a type used only through `value_type` must be
/// listed in the document's components).
#[test]
fn every_reference_resolves() {
    let doc = serde_json::to_value(api::openapi_document()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut missing = Vec::new();
    let mut stack = vec![&doc];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(|r| r.as_str()) {
                    let name = r.trim_start_matches("#/components/schemas/");
                    if !schemas.contains_key(name) {
                        missing.push(r.to_owned());
                    }
                }
                stack.extend(map.values());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    assert!(missing.is_empty(), "unresolvable references: {missing:?}");
}
