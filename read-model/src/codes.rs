//! How enums are stored: one table per enum, the only place its codes are written.
//!
//! ClickHouse keeps `action` and `device` as `Enum8` columns; rows travel as the
//! `Int8` codes. The migrations spell the same codes in SQL, and the Avro schemas list
//! the same symbols: the tests of this module check both against these tables, so a
//! new value cannot be added in one place only.

use schemas::{Action, Device};

/// Every action with its stored code, in code order.
pub const ACTIONS: [(Action, i8); 2] = [(Action::View, 1), (Action::Buy, 2)];

/// Every device with its stored code, in code order.
pub const DEVICES: [(Device, i8); 3] = [(Device::Pc, 1), (Device::Mobile, 2), (Device::Tv, 3)];

/// The stored code of an action.
pub fn action_code(action: Action) -> i8 {
    code_of(&ACTIONS, action)
}

/// The action a stored code stands for.
pub fn action_from_code(code: i8) -> Option<Action> {
    value_of(&ACTIONS, code)
}

/// The stored code of a device.
pub fn device_code(device: Device) -> i8 {
    code_of(&DEVICES, device)
}

/// The device a stored code stands for.
pub fn device_from_code(code: i8) -> Option<Device> {
    value_of(&DEVICES, code)
}

/// The `Enum8(...)` type of the action column, as the migrations must declare it.
pub fn action_enum8() -> String {
    enum8(
        ACTIONS
            .iter()
            .map(|(action, code)| (action.as_str(), *code)),
    )
}

/// The `Enum8(...)` type of the device column, as the migrations must declare it.
pub fn device_enum8() -> String {
    enum8(
        DEVICES
            .iter()
            .map(|(device, code)| (device.as_str(), *code)),
    )
}

fn code_of<T: PartialEq + Copy>(table: &[(T, i8)], value: T) -> i8 {
    table
        .iter()
        .find(|(candidate, _)| *candidate == value)
        .map_or(0, |(_, code)| *code)
}

fn value_of<T: Copy>(table: &[(T, i8)], code: i8) -> Option<T> {
    table
        .iter()
        .find(|(_, candidate)| *candidate == code)
        .map(|(value, _)| *value)
}

fn enum8<'a>(values: impl Iterator<Item = (&'a str, i8)>) -> String {
    let values: Vec<String> = values
        .map(|(name, code)| format!("'{name}' = {code}"))
        .collect();
    format!("Enum8({})", values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (action, code) in ACTIONS {
            assert_eq!(action_code(action), code);
            assert_eq!(action_from_code(code), Some(action));
        }
        for (device, code) in DEVICES {
            assert_eq!(device_code(device), code);
            assert_eq!(device_from_code(code), Some(device));
        }
        assert_eq!(action_from_code(0), None);
        assert_eq!(device_from_code(4), None);
    }

    /// Every column holding an action or a device is declared with these codes.
    #[test]
    fn the_migrations_declare_the_same_enum8s() {
        let migrations =
            migrations::discover(&migrations::bundled_dir()).expect("migrations readable");
        let mut declared = 0;
        for migration in &migrations {
            for line in migration.sql.lines() {
                let line = line.trim();
                for (column, expected) in [("action ", action_enum8()), ("device ", device_enum8())]
                {
                    if line.starts_with(column) && line.contains("Enum8") {
                        declared += 1;
                        assert!(
                            line.contains(&expected),
                            "{}: `{line}` does not declare {expected}",
                            migration.file_name
                        );
                    }
                }
            }
        }
        assert!(
            declared >= 3,
            "expected the enum columns of the migrations, found {declared}"
        );
    }

    /// The Avro enums list the same symbols, in code order.
    #[test]
    fn the_avro_schemas_list_the_same_symbols() {
        for version in schemas::avro::VERSIONS {
            for (name, symbols) in [
                (
                    "Action",
                    ACTIONS.map(|(action, _)| action.as_str()).to_vec(),
                ),
                (
                    "Device",
                    DEVICES.map(|(device, _)| device.as_str()).to_vec(),
                ),
            ] {
                let quoted: Vec<String> = symbols
                    .iter()
                    .map(|symbol| format!("\"{symbol}\""))
                    .collect();
                let declaration =
                    format!("\"name\": \"{name}\", \"symbols\": [{}]", quoted.join(", "));
                assert!(
                    version.text.contains(&declaration),
                    "schema v{} does not declare {declaration}",
                    version.version
                );
            }
        }
    }
}
