// libc and libpmem declarations; libpmem is looked up at RUN time with dlopen.
// Invariants and why:
// - The addon links nothing but libc (which std links anyway), so the same .node file loads where
//   libpmem1 is not installed; the libc prototypes below are the glibc x86_64/aarch64 ones
//   (off_t is 64-bit, mode_t is u32).
// - `libpmem()` resolves every function it needs from "libpmem.so.1" (or $CAPYKV_LIBPMEM) or
//   returns an error; a partial symbol set counts as "not available". The handle is never
//   dlclosed, so the function pointers stay valid for the life of the process.
// - PMEM_IS_PMEM_FORCE is read by libpmem itself, once, at its first pmem_is_pmem/map call.

#![allow(non_camel_case_types, dead_code)]

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_long, c_void};
use std::sync::OnceLock;

pub const PROT_READ: c_int = 1;
pub const PROT_WRITE: c_int = 2;
pub const MAP_SHARED: c_int = 1;
pub const MS_SYNC: c_int = 4;
pub const RTLD_NOW: c_int = 2;
pub const RTLD_LOCAL: c_int = 0;
pub const SC_PAGESIZE: c_int = 30;

pub fn map_failed() -> *mut c_void {
    usize::MAX as *mut c_void
}

extern "C" {
    pub fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    pub fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    pub fn dlerror() -> *mut c_char;
    pub fn mmap(
        addr: *mut c_void,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        offset: i64,
    ) -> *mut c_void;
    pub fn munmap(addr: *mut c_void, len: usize) -> c_int;
    pub fn msync(addr: *mut c_void, len: usize, flags: c_int) -> c_int;
    /// Returns an errno value (0 on success); does not set errno.
    pub fn posix_fallocate(fd: c_int, offset: i64, len: i64) -> c_int;
    pub fn sysconf(name: c_int) -> c_long;
}

/// The libpmem entry points the addon uses (libpmem.h, LIBPMEM_1.0).
pub struct Libpmem {
    pub map_file: unsafe extern "C" fn(
        path: *const c_char,
        len: usize,
        flags: c_int,
        mode: u32,
        mapped_lenp: *mut usize,
        is_pmemp: *mut c_int,
    ) -> *mut c_void,
    pub unmap: unsafe extern "C" fn(addr: *mut c_void, len: usize) -> c_int,
    pub persist: unsafe extern "C" fn(addr: *const c_void, len: usize),
    pub flush: unsafe extern "C" fn(addr: *const c_void, len: usize),
    pub drain: unsafe extern "C" fn(),
    pub msync: unsafe extern "C" fn(addr: *const c_void, len: usize) -> c_int,
    pub is_pmem: unsafe extern "C" fn(addr: *const c_void, len: usize) -> c_int,
    pub errormsg: unsafe extern "C" fn() -> *const c_char,
    pub check_version: unsafe extern "C" fn(major: u32, minor: u32) -> *const c_char,
}

unsafe fn sym<T: Copy>(handle: *mut c_void, name: &CStr) -> Option<T> {
    let p = dlsym(handle, name.as_ptr());
    if p.is_null() {
        None
    } else {
        // SAFETY: T is an `unsafe extern "C" fn` type of pointer size matching the C prototype.
        Some(std::mem::transmute_copy::<*mut c_void, T>(&p))
    }
}

unsafe fn load() -> Result<Libpmem, String> {
    // CAPYKV_LIBPMEM names another library file (a private build, or a missing one in tests).
    let name = std::env::var("CAPYKV_LIBPMEM").unwrap_or_else(|_| "libpmem.so.1".to_string());
    let cname = std::ffi::CString::new(name).map_err(|_| "CAPYKV_LIBPMEM has a NUL byte")?;
    let handle = dlopen(cname.as_ptr(), RTLD_NOW | RTLD_LOCAL);
    if handle.is_null() {
        let e = dlerror();
        let msg = if e.is_null() {
            "dlopen failed".to_string()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        };
        return Err(msg);
    }
    let missing = |n: &CStr| format!("{:?} lacks {}", cname, n.to_string_lossy());
    macro_rules! get {
        ($name:literal) => {
            sym(handle, $name).ok_or_else(|| missing($name))?
        };
    }
    let lib = Libpmem {
        map_file: get!(c"pmem_map_file"),
        unmap: get!(c"pmem_unmap"),
        persist: get!(c"pmem_persist"),
        flush: get!(c"pmem_flush"),
        drain: get!(c"pmem_drain"),
        msync: get!(c"pmem_msync"),
        is_pmem: get!(c"pmem_is_pmem"),
        errormsg: get!(c"pmem_errormsg"),
        check_version: get!(c"pmem_check_version"),
    };
    let bad = (lib.check_version)(1, 0);
    if !bad.is_null() {
        return Err(CStr::from_ptr(bad).to_string_lossy().into_owned());
    }
    Ok(lib)
}

static LIBPMEM: OnceLock<Result<Libpmem, String>> = OnceLock::new();

/// libpmem if it can be loaded in this process (dlopen is attempted once).
pub fn libpmem() -> Result<&'static Libpmem, &'static str> {
    match LIBPMEM.get_or_init(|| unsafe { load() }) {
        Ok(lib) => Ok(lib),
        Err(e) => Err(e.as_str()),
    }
}

/// libpmem's last error message for this thread (empty if none).
pub fn pmem_errormsg(lib: &Libpmem) -> String {
    unsafe {
        let p = (lib.errormsg)();
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

pub fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        let p = unsafe { sysconf(SC_PAGESIZE) };
        if p > 0 && (p as usize).is_power_of_two() {
            p as usize
        } else {
            4096
        }
    })
}
