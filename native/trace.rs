// The PM primitives the pool's methods are written against (trait Pm), implemented twice: by the
// mapped file (region.rs) and by a Trace that performs nothing and records every primitive, in
// order, with its offsets and the bytes it would store. lib.rs instantiates the SAME Node-API
// method bodies (persist, flush, drain, store64, writeSealed, commit) over either, so the trace
// pool (createTracePool) runs exactly the protocol code the real pool ships, and the crash
// simulator (test/sim/sim-region.ts) replays its trace on simulated PM: a change to the native
// commit (a dropped flush or fence, a store out of order, a CRC over the wrong bytes) changes
// what the simulator checks.
// Trace format (little-endian, 8-byte aligned), one entry per primitive:
//   u64 kind (1 flush, 2 drain, 3 persist, 4 store64, 5 copy)  u64 offset  u64 length  u64 value
// followed, for a copy, by its `length` bytes padded with zeros to a multiple of 8. flush is a
// write-back started (pmem_flush, clwb) that only a later drain (the fence) completes; persist
// is flush + drain; store64 one aligned atomic 8-byte store of `value`; copy a plain memmove.

use crate::region::{Region, Result};
use std::cell::RefCell;

pub const OP_FLUSH: u64 = 1;
pub const OP_DRAIN: u64 = 2;
pub const OP_PERSIST: u64 = 3;
pub const OP_STORE64: u64 = 4;
pub const OP_COPY: u64 = 5;

pub trait Pm {
    fn check_range(&self, offset: u64, length: u64) -> Result<()>;
    fn persist(&self, offset: usize, length: usize) -> Result<()>;
    fn flush(&self, offset: usize, length: usize) -> Result<()>;
    fn drain(&self);
    fn store64(&self, offset: usize, value: u64);
    /// # Safety
    /// `src` is valid for `length` bytes and the caller checked the range.
    unsafe fn copy_in(&self, offset: usize, src: *const u8, length: usize);
    /// # Safety
    /// Called once; nothing touches the memory afterwards.
    unsafe fn unmap(&self);
}

impl Pm for Region {
    fn check_range(&self, offset: u64, length: u64) -> Result<()> {
        Region::check_range(self, offset, length)
    }
    fn persist(&self, offset: usize, length: usize) -> Result<()> {
        Region::persist(self, offset, length)
    }
    fn flush(&self, offset: usize, length: usize) -> Result<()> {
        Region::flush(self, offset, length)
    }
    fn drain(&self) {
        Region::drain(self)
    }
    fn store64(&self, offset: usize, value: u64) {
        Region::store64(self, offset, value)
    }
    unsafe fn copy_in(&self, offset: usize, src: *const u8, length: usize) {
        Region::copy_in(self, offset, src, length)
    }
    unsafe fn unmap(&self) {
        Region::unmap(self)
    }
}

/// A pool of `len` bytes that records its primitives instead of performing them.
pub struct Trace {
    len: usize,
    log: RefCell<Vec<u8>>,
}

impl Trace {
    pub fn new(len: usize) -> Trace {
        Trace { len, log: RefCell::new(Vec::new()) }
    }
    fn entry(&self, kind: u64, offset: usize, length: usize, value: u64) {
        let mut log = self.log.borrow_mut();
        for v in [kind, offset as u64, length as u64, value] {
            log.extend_from_slice(&v.to_le_bytes());
        }
    }
    /// Bytes recorded since the last take.
    pub fn pending(&self) -> usize {
        self.log.borrow().len()
    }
    /// Move the recorded entries into `dst` (which holds at least pending() bytes); returns
    /// their length.
    pub fn take(&self, dst: &mut [u8]) -> usize {
        let mut log = self.log.borrow_mut();
        let n = log.len();
        dst[..n].copy_from_slice(&log);
        log.clear();
        n
    }
}

impl Pm for Trace {
    fn check_range(&self, offset: u64, length: u64) -> Result<()> {
        match offset.checked_add(length) {
            Some(end) if end <= self.len as u64 => Ok(()),
            _ => Err(crate::region::Error::new(
                "ERR_OUT_OF_RANGE",
                format!("range [{offset}, +{length}) is outside the pool of {} bytes", self.len),
            )),
        }
    }
    fn persist(&self, offset: usize, length: usize) -> Result<()> {
        if length > 0 {
            self.entry(OP_PERSIST, offset, length, 0);
        }
        Ok(())
    }
    fn flush(&self, offset: usize, length: usize) -> Result<()> {
        if length > 0 {
            self.entry(OP_FLUSH, offset, length, 0);
        }
        Ok(())
    }
    fn drain(&self) {
        self.entry(OP_DRAIN, 0, 0, 0);
    }
    fn store64(&self, offset: usize, value: u64) {
        self.entry(OP_STORE64, offset, 8, value);
    }
    unsafe fn copy_in(&self, offset: usize, src: *const u8, length: usize) {
        self.entry(OP_COPY, offset, length, 0);
        let bytes = std::slice::from_raw_parts(src, length);
        let mut log = self.log.borrow_mut();
        log.extend_from_slice(bytes);
        let padded = log.len().div_ceil(8) * 8;
        log.resize(padded, 0);
    }
    unsafe fn unmap(&self) {}
}
