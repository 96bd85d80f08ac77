//! Typed async client for Triton CloudAPI, with HTTP Signature auth (key files and ssh-agent).
