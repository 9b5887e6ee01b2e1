//! Image references: parsing and Docker-style normalisation.

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    raw: String,
}
