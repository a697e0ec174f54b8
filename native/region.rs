// A pool file mapped into memory: creation, reopening, flushing, atomic 8-byte stores.
// Invariants and why:
// - A Region maps the WHOLE file read-write and MAP_SHARED, once, at `base`, `len` bytes; it
//   never resizes the file (libpmem resizes, even truncates, an existing file mapped with
//   PMEM_FILE_CREATE: reopening maps with len 0 and no flags).
// - `create` allocates every block up front with posix_fallocate: a sparse or tmpfs file that
//   runs out of space would otherwise raise SIGBUS on a later store and kill the process. A
//   failed create removes the file it made, so create is all-or-nothing.
// - Durability: `persist` = pmem_persist when the mapping is PM (CPU cache flush + fence), else
//   pmem_msync / msync(MS_SYNC) over the page-aligned range. `flush` + `drain` is the split form.
// - Every method here trusts its caller (lib.rs) to have checked that the region is still mapped
//   and that offset + length <= len; `check_range` is the helper for that.
// - store64 is one aligned 8-byte store (AtomicU64, which Rust guarantees single-copy atomic;
//   on x86-64 and aarch64 a plain mov/str): DESIGN rule 4's only atomic primitive. JS's
//   Buffer.writeBigUInt64LE stores byte by byte and is not.

use crate::pmem_sys::{self as sys, Libpmem};
use std::ffi::{CString, OsStr};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::raw::{c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// An error for JS: `code` becomes the Error's `code` property.
#[derive(Debug)]
pub struct Error {
    pub code: &'static str,
    pub msg: String,
}

impl Error {
    pub fn new(code: &'static str, msg: impl Into<String>) -> Error {
        Error { code, msg: msg.into() }
    }
    /// Node-style system error: "ENOENT: no such file or directory, open '/x'".
    pub fn os(errno: i32, syscall: &str, path: &str) -> Error {
        let text = std::io::Error::from_raw_os_error(errno).to_string();
        let text = match text.find(" (os error") {
            Some(i) => text[..i].to_lowercase(),
            None => text.to_lowercase(),
        };
        let code = errno_name(errno);
        Error { code, msg: format!("{code}: {text}, {syscall} '{path}'") }
    }
    fn io(e: &std::io::Error, syscall: &str, path: &str) -> Error {
        Error::os(e.raw_os_error().unwrap_or(5 /* EIO */), syscall, path)
    }
    fn last_os(syscall: &str, path: &str) -> Error {
        Error::io(&std::io::Error::last_os_error(), syscall, path)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        26 => "ETXTBSY",
        27 => "EFBIG",
        28 => "ENOSPC",
        30 => "EROFS",
        36 => "ENAMETOOLONG",
        40 => "ELOOP",
        75 => "EOVERFLOW",
        95 => "EOPNOTSUPP",
        122 => "EDQUOT",
        _ => "ERR_SYSTEM",
    }
}

#[derive(Clone, Copy)]
pub enum Backend {
    Libpmem(&'static Libpmem),
    Mmap,
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Libpmem(_) => "libpmem",
            Backend::Mmap => "mmap",
        }
    }
}

/// The backend of every pool in this process, chosen once from CAPYKV_PMEM_BACKEND:
/// unset / "" / "auto" → libpmem if it loads, else mmap; "mmap" → mmap (libpmem is not even
/// loaded); "libpmem" → libpmem or an error; anything else → an error.
pub fn selected_backend() -> Result<Backend> {
    static CHOICE: OnceLock<std::result::Result<Backend, (&'static str, String)>> = OnceLock::new();
    let choice = CHOICE.get_or_init(|| {
        let want = std::env::var("CAPYKV_PMEM_BACKEND").unwrap_or_default();
        match want.as_str() {
            "" | "auto" => Ok(match sys::libpmem() {
                Ok(lib) => Backend::Libpmem(lib),
                Err(_) => Backend::Mmap,
            }),
            "mmap" => Ok(Backend::Mmap),
            "libpmem" => match sys::libpmem() {
                Ok(lib) => Ok(Backend::Libpmem(lib)),
                Err(e) => Err((
                    "ERR_BACKEND_UNAVAILABLE",
                    format!("CAPYKV_PMEM_BACKEND=libpmem but libpmem cannot be loaded: {e}"),
                )),
            },
            other => Err((
                "ERR_INVALID_BACKEND",
                format!("CAPYKV_PMEM_BACKEND={other:?}: expected auto, libpmem or mmap"),
            )),
        }
    });
    match choice {
        Ok(b) => Ok(*b),
        Err((code, msg)) => Err(Error::new(code, msg.clone())),
    }
}

pub struct Region {
    base: *mut u8,
    len: usize,
    backend: Backend,
    is_pmem: bool,
}

const MIN_POOL: u64 = 4096;

fn c_path(path: &str) -> Result<CString> {
    CString::new(path).map_err(|_| Error::new("ERR_INVALID_ARG", "path contains a NUL byte"))
}

fn sync_parent_dir(path: &Path, shown: &str) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = File::open(parent).map_err(|e| Error::io(&e, "open", shown))?;
    dir.sync_all().map_err(|e| Error::io(&e, "fsync", shown))
}

impl Region {
    /// Create `path` (must not exist), allocate `size` bytes of blocks, map it.
    pub fn create(path: &str, size: u64) -> Result<Region> {
        let backend = selected_backend()?;
        if size < MIN_POOL || !size.is_multiple_of(MIN_POOL) || size > isize::MAX as u64 / 2 {
            return Err(Error::new(
                "ERR_INVALID_ARG",
                format!("pool size {size} must be a multiple of 4096 and at least 4096"),
            ));
        }
        let cpath = c_path(path)?;
        let p = Path::new(OsStr::from_bytes(path.as_bytes()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o666)
            .custom_flags(0o2000000 /* O_CLOEXEC */)
            .open(p)
            .map_err(|e| Error::io(&e, "open", path))?;
        // From here on the file is ours: remove it if anything fails.
        let made = (|| -> Result<Region> {
            let rc = unsafe { sys::posix_fallocate(file.as_raw_fd(), 0, size as i64) };
            if rc != 0 {
                return Err(Error::os(rc, "posix_fallocate", path));
            }
            file.sync_all().map_err(|e| Error::io(&e, "fsync", path))?;
            sync_parent_dir(p, path)?;
            Region::map(backend, &file, &cpath, path, size as usize)
        })();
        if made.is_err() {
            drop(file);
            let _ = std::fs::remove_file(p);
        }
        made
    }

    /// Map the existing file `path` at its current size.
    pub fn open(path: &str) -> Result<Region> {
        let backend = selected_backend()?;
        let cpath = c_path(path)?;
        let p = Path::new(OsStr::from_bytes(path.as_bytes()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(0o2000000 /* O_CLOEXEC */)
            .open(p)
            .map_err(|e| Error::io(&e, "open", path))?;
        let meta = file.metadata().map_err(|e| Error::io(&e, "fstat", path))?;
        let ft = meta.file_type();
        if !(ft.is_file() || ft.is_char_device()) {
            return Err(Error::os(22, "open", path));
        }
        let size = meta.len();
        if ft.is_file() && (size == 0 || size > isize::MAX as u64 / 2) {
            return Err(Error::new(
                "EINVAL",
                format!("EINVAL: pool file of {size} bytes cannot be mapped, open '{path}'"),
            ));
        }
        Region::map(backend, &file, &cpath, path, size as usize)
    }

    fn map(
        backend: Backend,
        file: &File,
        cpath: &CString,
        path: &str,
        size: usize,
    ) -> Result<Region> {
        match backend {
            Backend::Libpmem(lib) => {
                let mut mapped: usize = 0;
                let mut is_pmem: c_int = 0;
                // len 0 and no flags: map the file as it is, never create or resize it.
                let addr =
                    unsafe { (lib.map_file)(cpath.as_ptr(), 0, 0, 0, &mut mapped, &mut is_pmem) };
                if addr.is_null() {
                    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(5);
                    let mut e = Error::os(errno, "pmem_map_file", path);
                    let detail = sys::pmem_errormsg(lib);
                    if !detail.is_empty() {
                        e.msg = format!("{} ({detail})", e.msg);
                    }
                    return Err(e);
                }
                let region = Region {
                    base: addr as *mut u8,
                    len: mapped,
                    backend,
                    is_pmem: is_pmem != 0 || unsafe { (lib.is_pmem)(addr, mapped) } != 0,
                };
                if mapped == 0 || (size != 0 && mapped != size) {
                    let msg = format!("mapped {mapped} bytes of a {size}-byte file '{path}'");
                    unsafe { region.unmap() };
                    return Err(Error::new("ERR_SYSTEM", msg));
                }
                Ok(region)
            }
            Backend::Mmap => {
                if size == 0 {
                    return Err(Error::os(22, "mmap", path));
                }
                let addr = unsafe {
                    sys::mmap(
                        std::ptr::null_mut(),
                        size,
                        sys::PROT_READ | sys::PROT_WRITE,
                        sys::MAP_SHARED,
                        file.as_raw_fd(),
                        0,
                    )
                };
                if addr == sys::map_failed() {
                    return Err(Error::last_os("mmap", path));
                }
                Ok(Region { base: addr as *mut u8, len: size, backend, is_pmem: false })
            }
        }
    }

    pub fn base(&self) -> *mut u8 {
        self.base
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn backend(&self) -> Backend {
        self.backend
    }
    pub fn is_pmem(&self) -> bool {
        self.is_pmem
    }

    pub fn check_range(&self, offset: u64, length: u64) -> Result<()> {
        match offset.checked_add(length) {
            Some(end) if end <= self.len as u64 => Ok(()),
            _ => Err(Error::new(
                "ERR_OUT_OF_RANGE",
                format!("range [{offset}, +{length}) is outside the pool of {} bytes", self.len),
            )),
        }
    }

    fn msync_range(&self, offset: usize, length: usize) -> Result<()> {
        match self.backend {
            Backend::Libpmem(lib) => {
                let rc = unsafe { (lib.msync)(self.base.add(offset) as *const c_void, length) };
                if rc != 0 {
                    return Err(Error::last_os("pmem_msync", "pool"));
                }
            }
            Backend::Mmap => {
                let page = sys::page_size();
                let start = offset & !(page - 1);
                let end = offset + length; // <= len, and the mapping spans whole pages
                let rc = unsafe {
                    sys::msync(self.base.add(start) as *mut c_void, end - start, sys::MS_SYNC)
                };
                if rc != 0 {
                    return Err(Error::last_os("msync", "pool"));
                }
            }
        }
        Ok(())
    }

    /// Make [offset, offset+length) durable. Caller checked the range.
    pub fn persist(&self, offset: usize, length: usize) -> Result<()> {
        if length == 0 {
            return Ok(());
        }
        match self.backend {
            Backend::Libpmem(lib) if self.is_pmem => {
                unsafe { (lib.persist)(self.base.add(offset) as *const c_void, length) };
                Ok(())
            }
            _ => self.msync_range(offset, length),
        }
    }

    /// Start writing back [offset, offset+length); durable after `drain`. Caller checked range.
    pub fn flush(&self, offset: usize, length: usize) -> Result<()> {
        if length == 0 {
            return Ok(());
        }
        match self.backend {
            Backend::Libpmem(lib) if self.is_pmem => {
                unsafe { (lib.flush)(self.base.add(offset) as *const c_void, length) };
                Ok(())
            }
            _ => self.msync_range(offset, length),
        }
    }

    pub fn drain(&self) {
        if let Backend::Libpmem(lib) = self.backend {
            if self.is_pmem {
                unsafe { (lib.drain)() };
            }
        }
    }

    /// Copy `length` bytes from `src` to [offset, offset+length) (memmove: `src` may lie in the
    /// mapping). Caller checked the range; `src` is valid for `length` bytes.
    pub unsafe fn copy_in(&self, offset: usize, src: *const u8, length: usize) {
        std::ptr::copy(src, self.base.add(offset), length)
    }

    /// One aligned atomic 8-byte store. Caller checked range and 8-byte alignment.
    pub fn store64(&self, offset: usize, value: u64) {
        debug_assert!(offset.is_multiple_of(8) && offset + 8 <= self.len);
        // SAFETY: in range, 8-aligned (the mapping is page-aligned), and mapped.
        unsafe { (*(self.base.add(offset) as *const AtomicU64)).store(value, Ordering::Release) }
    }

    /// Unmap. The caller guarantees it is called once and that nothing touches the memory after.
    pub unsafe fn unmap(&self) {
        match self.backend {
            Backend::Libpmem(lib) => {
                (lib.unmap)(self.base as *mut c_void, self.len);
            }
            Backend::Mmap => {
                sys::munmap(self.base as *mut c_void, self.len);
            }
        }
    }
}
