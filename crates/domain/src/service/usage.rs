//! Writing collected key usage to storage.

use super::Keyward;
use crate::error::Error;

impl Keyward {
    /// Writes the uses collected since the last flush in one batch; returns how many keys it
    /// updated. On failure the uses are kept for the next flush, so none is lost to a passing fault.
    pub fn flush_usage(&self) -> Result<usize, Error> {
        let batch = self.usage.drain();
        if batch.is_empty() {
            return Ok(0);
        }
        match self.repo.record_api_key_usage(&batch) {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                self.usage.restore(batch);
                Err(e.into())
            }
        }
    }
}
