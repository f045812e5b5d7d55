//! Schema evolution: the real v1 -> v2 step (v2 adds the time's text as sent), and a
//! tag written with a newer compatible schema (a field with a default added) read by
//! older code and the other way round. The `v2-example`/`v2-incompatible` schemas are
//! test fixtures (v1 plus a `consent` field), not versions the platform writes.

use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use schemas::avro::{self, check_backward, parse_schema};
use schemas::codec::decode_datum;
use schemas::UserTag;

const V2_EXAMPLE: &str = include_str!("fixtures/user_tag.v2-example.avsc");
const V2_INCOMPATIBLE: &str = include_str!("fixtures/user_tag.v2-incompatible.avsc");

fn tag() -> UserTag {
    UserTag::from_json(
        br#"{"time":"2026-03-01T12:00:00.001Z","cookie":"c","country":"CL","device":"TV","action":"VIEW",
            "origin":"o","product_info":{"product_id":"sku","brand_id":"b","category_id":"k","price":9}}"#,
    )
    .expect("valid tag")
}

#[test]
fn a_v2_tag_is_read_by_v1_code_and_a_v1_tag_by_v2_code() {
    let v1 = parse_schema(avro::VERSIONS[0].text).expect("v1 parses");
    let v2 = parse_schema(V2_EXAMPLE).expect("v2 parses");

    // Written by a v2 producer: v1's fields plus `consent`.
    let Value::Record(mut fields) = avro::to_value(&tag()) else {
        panic!("a tag is a record");
    };
    fields.retain(|(name, _)| name != "time_text");
    fields.push(("consent".to_owned(), Value::Boolean(false)));
    let v2_datum = GenericDatumWriter::builder(&v2)
        .build()
        .and_then(|writer| writer.write_value_to_vec(Value::Record(fields)))
        .expect("v2 datum");
    assert_eq!(
        decode_datum(&v2, &v1, &v2_datum).expect("v1 reads v2"),
        tag()
    );

    // Written by a v1 producer, read by a v2 consumer: `consent` takes its default.
    let v1_datum = v1_datum(&v1, &tag());
    assert_eq!(
        decode_datum(&v1, &v2, &v1_datum).expect("v2 reads v1"),
        tag()
    );
}

#[test]
fn the_checker_accepts_an_added_default_and_refuses_a_field_without_one() {
    let v1 = avro::current_version().text;
    check_backward(&[(1, v1), (2, V2_EXAMPLE)])
        .expect("adding a field with a default is backward compatible");
    let error = check_backward(&[(1, v1), (2, V2_INCOMPATIBLE)])
        .expect_err("a field without default breaks readers");
    assert_eq!((error.older, error.newer), (1, 2));
    assert!(error.to_string().contains("consent"), "{error}");
}

#[test]
fn every_version_must_read_every_older_one_not_only_its_predecessor() {
    // v2 drops nothing v1 needs; v3 reads v2 but not v1 (it requires v2's field
    // without a default): checking neighbours only would let it through.
    let v1 = avro::current_version().text;
    let v3 = V2_INCOMPATIBLE;
    let error =
        check_backward(&[(1, v1), (2, V2_EXAMPLE), (3, v3)]).expect_err("v3 cannot read v1 data");
    assert_eq!((error.older, error.newer), (1, 3));
    check_backward(&[(2, V2_EXAMPLE), (3, v3)]).expect("v3 reads v2 data");
}

fn v1_datum(v1: &apache_avro::Schema, tag: &UserTag) -> Vec<u8> {
    let Value::Record(mut fields) = avro::to_value(tag) else {
        panic!("a tag is a record");
    };
    fields.retain(|(name, _)| name != "time_text");
    GenericDatumWriter::builder(v1)
        .build()
        .and_then(|writer| writer.write_value_to_vec(Value::Record(fields)))
        .expect("v1 datum")
}

fn with_time(text: &str) -> UserTag {
    let mut tag = tag();
    tag.time = schemas::TagTime::parse(text).expect("valid time");
    tag
}

#[test]
fn v1_records_read_as_v2_and_v2_keeps_the_time_as_sent() {
    let v1 = parse_schema(avro::VERSIONS[0].text).expect("v1 parses");
    let v2 = avro::current_schema();
    assert_eq!(avro::current_version().version, 2);
    check_backward(&avro::bundled_versions()).expect("v2 reads every v1 record");

    // The log's v1 records: read by v2 code with the canonical text.
    let sent = with_time("2026-03-01T12:00:00.000Z");
    let old = decode_datum(&v1, v2, &v1_datum(&v1, &sent)).expect("v2 reads v1");
    assert_eq!(old.time.text(), "2026-03-01T12:00:00Z");
    assert_eq!(old.time.instant(), sent.time.instant());

    // Written and read as v2: byte for byte.
    let datum = GenericDatumWriter::builder(v2)
        .build()
        .and_then(|writer| writer.write_value_to_vec(avro::to_value(&sent)))
        .expect("v2 datum");
    let back = decode_datum(v2, v2, &datum).expect("v2 reads v2");
    assert_eq!(back, sent);
    assert_eq!(back.to_json_value()["time"], "2026-03-01T12:00:00.000Z");

    // A v1 consumer still reading during a rolling upgrade gets the same instant.
    let by_v1 = decode_datum(v2, &v1, &datum).expect("v1 reads v2");
    assert_eq!(by_v1.time.instant(), sent.time.instant());
}
