//! Field lists of ROS interface definitions, from both sides: a parser for `.msg`/`.srv` text and
//! a serde serializer that reads a mirror struct's fields and ROS types off its `Serialize` impl.
//! Comparing the two proves a Rust mirror matches its `.msg` field for field (names, order, types,
//! fixed vs. unbounded arrays) without trusting a hand-written list.

use serde::Serialize;
use serde::ser::{self, Impossible};

/// One field of a message: ROS type as written in a `.msg` (normalized) and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub ty: String,
    pub name: String,
}

/// Parses the fields of a `.msg` body (comments, blank lines and constants skipped). Types are
/// normalized: `byte`/`char` → `uint8`, package-relative names get `pkg/`, the `/msg/` infix is dropped.
pub fn parse_msg(text: &str, pkg: &str) -> Vec<Field> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("").trim();
            let mut parts = line.split_whitespace();
            let (ty, name) = (parts.next()?, parts.next()?);
            // Constants are `TYPE NAME=VALUE` or `TYPE NAME = VALUE`; defaults are `TYPE NAME VALUE` (kept as fields).
            if name.contains('=') || parts.next().is_some_and(|rest| rest.starts_with('=')) {
                return None;
            }
            Some(Field { ty: normalize_type(ty, pkg), name: name.to_owned() })
        })
        .collect()
}

/// Splits a `.srv` into (request fields, response fields).
pub fn parse_srv(text: &str, pkg: &str) -> (Vec<Field>, Vec<Field>) {
    // An empty request starts the file with the separator.
    let text = format!("\n{text}");
    let mut halves = text.splitn(2, "\n---");
    let req = halves.next().unwrap_or("");
    let resp = halves.next().unwrap_or("");
    (parse_msg(req, pkg), parse_msg(resp, pkg))
}

fn normalize_type(ty: &str, pkg: &str) -> String {
    let (base, array) = match ty.find('[') {
        Some(i) => (&ty[..i], &ty[i..]),
        None => (ty, ""),
    };
    let base = match base {
        "byte" | "char" => "uint8".to_owned(),
        b if is_primitive(b) => b.to_owned(),
        "Header" => "std_msgs/Header".to_owned(),
        b if b.contains('/') => b.replace("/msg/", "/"),
        b => format!("{pkg}/{b}"),
    };
    format!("{base}{array}")
}

fn is_primitive(t: &str) -> bool {
    matches!(
        t,
        "bool"
            | "int8"
            | "uint8"
            | "int16"
            | "uint16"
            | "int32"
            | "uint32"
            | "int64"
            | "uint64"
            | "float32"
            | "float64"
            | "string"
            | "wstring"
    )
}

/// Why a mirror's fields could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{0}")]
    Custom(String),
    #[error("field {0}: an empty sequence hides its element type; give the example one element")]
    EmptySeq(String),
    #[error("the value is a {0}, not a struct")]
    NotStruct(&'static str),
}

impl ser::Error for SchemaError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self::Custom(msg.to_string())
    }
}

/// Reads the fields of a mirror struct. `struct_type` maps a Rust struct name (as serde sees it,
/// e.g. "Header") to its ROS type ("std_msgs/Header"). Sequences in `example` need one element.
pub fn mirror_fields<T: Serialize>(
    example: &T,
    struct_type: &dyn Fn(&str) -> String,
) -> Result<Vec<Field>, SchemaError> {
    example.serialize(FieldLister { struct_type, fields: Vec::new() })
}

struct FieldLister<'a> {
    struct_type: &'a dyn Fn(&str) -> String,
    fields: Vec<Field>,
}

struct TypeNamer<'a> {
    struct_type: &'a dyn Fn(&str) -> String,
    field: &'a str,
}

/// Collects element types of a sequence or fixed array.
struct Elements<'a> {
    namer: TypeNamer<'a>,
    elem: Option<String>,
    len: usize,
    fixed: bool,
}

macro_rules! not_struct {
    ($($m:ident($t:ty)),*) => {$(
        fn $m(self, _v: $t) -> Result<Self::Ok, Self::Error> { Err(SchemaError::NotStruct(stringify!($t))) }
    )*};
}

macro_rules! prim {
    ($($m:ident($t:ty) => $ros:expr),*) => {$(
        fn $m(self, _v: $t) -> Result<String, SchemaError> { Ok($ros.to_owned()) }
    )*};
}

impl<'a> ser::Serializer for FieldLister<'a> {
    type Ok = Vec<Field>;
    type Error = SchemaError;
    type SerializeSeq = Impossible<Vec<Field>, SchemaError>;
    type SerializeTuple = Impossible<Vec<Field>, SchemaError>;
    type SerializeTupleStruct = Impossible<Vec<Field>, SchemaError>;
    type SerializeTupleVariant = Impossible<Vec<Field>, SchemaError>;
    type SerializeMap = Impossible<Vec<Field>, SchemaError>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<Vec<Field>, SchemaError>;

    not_struct!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str)
    );

    fn serialize_none(self) -> Result<Self::Ok, Self::Error> {
        Err(SchemaError::NotStruct("option"))
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _v: &T) -> Result<Self::Ok, Self::Error> {
        Err(SchemaError::NotStruct("option"))
    }
    fn serialize_unit(self) -> Result<Self::Ok, Self::Error> {
        Err(SchemaError::NotStruct("unit"))
    }
    fn serialize_unit_variant(self, _n: &'static str, _i: u32, _v: &'static str) -> Result<Self::Ok, Self::Error> {
        Err(SchemaError::NotStruct("enum"))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _n: &'static str, v: &T) -> Result<Self::Ok, Self::Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _x: &T,
    ) -> Result<Self::Ok, Self::Error> {
        Err(SchemaError::NotStruct("enum"))
    }
    fn serialize_seq(self, _l: Option<usize>) -> Result<Self::SerializeSeq, Self::Error> {
        Err(SchemaError::NotStruct("sequence"))
    }
    fn serialize_tuple(self, _l: usize) -> Result<Self::SerializeTuple, Self::Error> {
        Err(SchemaError::NotStruct("tuple"))
    }
    fn serialize_tuple_struct(self, _n: &'static str, _l: usize) -> Result<Self::SerializeTupleStruct, Self::Error> {
        Err(SchemaError::NotStruct("tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _l: usize,
    ) -> Result<Self::SerializeTupleVariant, Self::Error> {
        Err(SchemaError::NotStruct("enum"))
    }
    fn serialize_map(self, _l: Option<usize>) -> Result<Self::SerializeMap, Self::Error> {
        Err(SchemaError::NotStruct("map"))
    }
    fn serialize_struct(self, _n: &'static str, _l: usize) -> Result<Self::SerializeStruct, Self::Error> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _l: usize,
    ) -> Result<Self::SerializeStructVariant, Self::Error> {
        Err(SchemaError::NotStruct("enum"))
    }
}

impl ser::SerializeStruct for FieldLister<'_> {
    type Ok = Vec<Field>;
    type Error = SchemaError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), SchemaError> {
        let ty = value.serialize(TypeNamer { struct_type: self.struct_type, field: key })?;
        self.fields.push(Field { ty, name: key.to_owned() });
        Ok(())
    }
    fn end(self) -> Result<Vec<Field>, SchemaError> {
        Ok(self.fields)
    }
}

impl<'a> ser::Serializer for TypeNamer<'a> {
    type Ok = String;
    type Error = SchemaError;
    type SerializeSeq = Elements<'a>;
    type SerializeTuple = Elements<'a>;
    type SerializeTupleStruct = Impossible<String, SchemaError>;
    type SerializeTupleVariant = Impossible<String, SchemaError>;
    type SerializeMap = Impossible<String, SchemaError>;
    type SerializeStruct = NestedStruct;
    type SerializeStructVariant = Impossible<String, SchemaError>;

    prim!(serialize_bool(bool) => "bool", serialize_i8(i8) => "int8", serialize_i16(i16) => "int16",
        serialize_i32(i32) => "int32", serialize_i64(i64) => "int64", serialize_u8(u8) => "uint8",
        serialize_u16(u16) => "uint16", serialize_u32(u32) => "uint32", serialize_u64(u64) => "uint64",
        serialize_f32(f32) => "float32", serialize_f64(f64) => "float64", serialize_char(char) => "uint8",
        serialize_str(&str) => "string", serialize_bytes(&[u8]) => "uint8[]");

    fn serialize_none(self) -> Result<String, SchemaError> {
        Err(SchemaError::Custom(format!("{}: Option has no ROS type", self.field)))
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _v: &T) -> Result<String, SchemaError> {
        self.serialize_none()
    }
    fn serialize_unit(self) -> Result<String, SchemaError> {
        Err(SchemaError::Custom(format!("{}: unit has no ROS type", self.field)))
    }
    fn serialize_unit_struct(self, _n: &'static str) -> Result<String, SchemaError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _n: &'static str, _i: u32, _v: &'static str) -> Result<String, SchemaError> {
        self.serialize_unit()
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _n: &'static str, v: &T) -> Result<String, SchemaError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _x: &T,
    ) -> Result<String, SchemaError> {
        self.serialize_unit()
    }
    fn serialize_seq(self, _l: Option<usize>) -> Result<Elements<'a>, SchemaError> {
        Ok(Elements { namer: self, elem: None, len: 0, fixed: false })
    }
    fn serialize_tuple(self, _l: usize) -> Result<Elements<'a>, SchemaError> {
        Ok(Elements { namer: self, elem: None, len: 0, fixed: true })
    }
    fn serialize_tuple_struct(self, _n: &'static str, _l: usize) -> Result<Self::SerializeTupleStruct, SchemaError> {
        Err(SchemaError::Custom(format!("{}: tuple struct", self.field)))
    }
    fn serialize_tuple_variant(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _l: usize,
    ) -> Result<Self::SerializeTupleVariant, SchemaError> {
        Err(SchemaError::Custom(format!("{}: enum", self.field)))
    }
    fn serialize_map(self, _l: Option<usize>) -> Result<Self::SerializeMap, SchemaError> {
        Err(SchemaError::Custom(format!("{}: map", self.field)))
    }
    fn serialize_struct(self, name: &'static str, _l: usize) -> Result<Self::SerializeStruct, SchemaError> {
        // The nested struct's own fields are checked against its own .msg; here only its type counts.
        Ok(NestedStruct((self.struct_type)(name)))
    }
    fn serialize_struct_variant(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _l: usize,
    ) -> Result<Self::SerializeStructVariant, SchemaError> {
        Err(SchemaError::Custom(format!("{}: enum", self.field)))
    }
}

impl Elements<'_> {
    fn push<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SchemaError> {
        let namer = TypeNamer { struct_type: self.namer.struct_type, field: self.namer.field };
        let ty = value.serialize(namer)?;
        self.elem = Some(ty);
        self.len += 1;
        Ok(())
    }
    fn finish(self) -> Result<String, SchemaError> {
        let elem = self.elem.ok_or_else(|| SchemaError::EmptySeq(self.namer.field.to_owned()))?;
        Ok(if self.fixed { format!("{elem}[{}]", self.len) } else { format!("{elem}[]") })
    }
}

/// A struct inside a struct: only its ROS type name is recorded.
struct NestedStruct(String);

impl ser::SerializeStruct for NestedStruct {
    type Ok = String;
    type Error = SchemaError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _k: &'static str, _v: &T) -> Result<(), SchemaError> {
        Ok(())
    }
    fn end(self) -> Result<String, SchemaError> {
        Ok(self.0)
    }
}

impl ser::SerializeSeq for Elements<'_> {
    type Ok = String;
    type Error = SchemaError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), SchemaError> {
        self.push(v)
    }
    fn end(self) -> Result<String, SchemaError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Elements<'_> {
    type Ok = String;
    type Error = SchemaError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), SchemaError> {
        self.push(v)
    }
    fn end(self) -> Result<String, SchemaError> {
        self.finish()
    }
}
