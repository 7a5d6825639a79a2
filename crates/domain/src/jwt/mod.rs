//! JSON Web Tokens: signing and verification through jsonwebtoken with ring as its cryptography.

pub mod claims;
pub mod provider;
