//! Schema evolution: a tag written with a newer compatible schema (v1 plus a field with
//! a default) is read by code on v1, and a v1 tag is read by code on the newer schema.
//! The v2 schemas here are test fixtures, not versions the platform writes.

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
    let v1 = avro::current_schema().clone();
    let v2 = parse_schema(V2_EXAMPLE).expect("v2 parses");

    // Written by a v2 producer: v1's fields plus `consent`.
    let Value::Record(mut fields) = avro::to_value(&tag()) else {
        panic!("a tag is a record");
    };
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
    let v1_datum = GenericDatumWriter::builder(&v1)
        .build()
        .and_then(|writer| writer.write_value_to_vec(avro::to_value(&tag())))
        .expect("v1 datum");
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
