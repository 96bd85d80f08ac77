//! The imagebake step engine, SSH communicator, provisioners and builders.
