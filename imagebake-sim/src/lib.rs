//! Local simulators of the Triton, Oxide and Outscale APIs for offline bakes and tests.
