use serde::Deserialize;

/// Bytes read from an instance's serial console (`InstanceSerialConsoleData`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct InstanceSerialConsoleData {
    /// The bytes read.
    pub data: Vec<u8>,
    /// Offset, since the instance started, of the last byte returned.
    pub last_byte_offset: u64,
}

impl InstanceSerialConsoleData {
    /// The bytes as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Which part of the console buffer to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialConsoleRead {
    /// From this byte offset since the instance started.
    FromStart(u64),
    /// The last this many bytes.
    MostRecent(u64),
}
