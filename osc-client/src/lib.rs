//! Typed async client for the Outscale API (OSC4/AWS4 request signing).
