// capykv-pmem: the Node-API exports (createPool, openPool, crc64, crc64Seal, crc64Verify,
// nativeInfo; a pool's methods: persist, flush, drain, store64, writeSealed, commit, close). The
// types and the loader are in src/storage/native.ts.
// Invariants and why:
// - Never abort the process on bad input: every argument is checked here and every failure is
//   thrown as a JS Error whose `code` names it (ERR_INVALID_ARG, ERR_OUT_OF_RANGE,
//   ERR_POOL_CLOSED, errno names like ENOENT/EEXIST/ENOSPC/EACCES, ...). Nothing here panics
//   (panic = "abort" in release).
// - A Pool is shared by its holders: every segment ArrayBuffer (external buffer finalizer, the
//   Pool passed as the *hint*) and every method function (napi_add_finalizer). Each holder owns
//   one count of `refs`; the last release unmaps (unless close() did) and frees the Pool. A
//   method therefore never sees a freed Pool, even when called detached from its object.
// - close() detaches every segment ArrayBuffer that still exists (weak references to the
//   ArrayBuffers, not to the Buffers, so subarray views are detached too) BEFORE unmapping, so no
//   JS view can reach unmapped memory; if a detach fails it does not unmap.
// - Methods find their Pool through napi_get_cb_info's data pointer (no unwrap: ~40 ns a call).
// - All of this runs on the JS thread that owns `env`; Cell/RefCell are sound for that reason.

mod crc64;
mod napi_sys;
mod pmem_sys;
mod region;
mod trace;

use napi_sys::*;
use region::{Error, Region, Result};
use std::cell::{Cell, RefCell};
use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::ptr;
use trace::{Pm, Trace};

const SEGMENT_BYTES: usize = 1 << 30;
const MAX_SAFE_INTEGER: f64 = 9007199254740991.0;

// ---------------------------------------------------------------------------------------------
// Errors and argument parsing

fn napi_failed(what: &str) -> Error {
    Error::new("ERR_NAPI", format!("Node-API call failed: {what}"))
}

fn check(status: napi_status, what: &str) -> Result<()> {
    if status == NAPI_OK {
        Ok(())
    } else {
        Err(napi_failed(what))
    }
}

fn cstring_lossy(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

unsafe fn throw(env: napi_env, e: &Error) {
    let mut pending = false;
    napi_is_exception_pending(env, &mut pending);
    if pending {
        return; // keep the JS exception that a Node-API call already raised
    }
    let code = cstring_lossy(e.code);
    let msg = cstring_lossy(&e.msg);
    napi_throw_error(env, code.as_ptr(), msg.as_ptr());
}

/// Run a callback body; turn an Err into a thrown JS Error.
unsafe fn guard(env: napi_env, r: Result<napi_value>) -> napi_value {
    match r {
        Ok(v) => v,
        Err(e) => {
            throw(env, &e);
            ptr::null_mut()
        }
    }
}

fn invalid(msg: String) -> Error {
    Error::new("ERR_INVALID_ARG", msg)
}

unsafe fn cb_args<const N: usize>(
    env: napi_env,
    info: napi_callback_info,
) -> Result<([napi_value; N], *mut c_void)> {
    let mut argv = [ptr::null_mut(); N];
    let mut argc = N;
    let mut data = ptr::null_mut();
    check(
        napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data),
        "napi_get_cb_info",
    )?;
    if argc < N {
        // Missing arguments read as undefined; every parser below rejects undefined.
        let mut undef = ptr::null_mut();
        check(napi_get_undefined(env, &mut undef), "napi_get_undefined")?;
        for a in argv.iter_mut().skip(argc) {
            *a = undef;
        }
    }
    Ok((argv, data))
}

/// A non-negative safe integer (offsets, lengths, sizes).
unsafe fn arg_index(env: napi_env, v: napi_value, name: &str) -> Result<u64> {
    let mut d = 0.0f64;
    if napi_get_value_double(env, v, &mut d) != NAPI_OK {
        return Err(invalid(format!("{name} must be a number")));
    }
    // In [0, 2^53] the u64 cast is exact, so the round trip tests integrality (no libm trunc).
    if !((0.0..=MAX_SAFE_INTEGER).contains(&d) && (d as u64) as f64 == d) {
        return Err(invalid(format!("{name} must be a non-negative safe integer, got {d}")));
    }
    Ok(d as u64)
}

unsafe fn arg_u32(env: napi_env, v: napi_value, name: &str) -> Result<u32> {
    let mut d = 0.0f64;
    if napi_get_value_double(env, v, &mut d) != NAPI_OK {
        return Err(invalid(format!("{name} must be a number")));
    }
    if !((0.0..=4294967295.0).contains(&d) && (d as u32) as f64 == d) {
        return Err(invalid(format!("{name} must be an integer in [0, 2^32), got {d}")));
    }
    Ok(d as u32)
}

unsafe fn arg_u64_bigint(env: napi_env, v: napi_value, name: &str) -> Result<u64> {
    let mut x = 0u64;
    let mut lossless = false;
    if napi_get_value_bigint_uint64(env, v, &mut x, &mut lossless) != NAPI_OK {
        return Err(invalid(format!("{name} must be a bigint")));
    }
    if !lossless {
        return Err(invalid(format!("{name} must be a bigint in [0, 2^64)")));
    }
    Ok(x)
}

/// The bytes of a Uint8Array (Buffer). A detached or empty array gives (null-safe) length 0.
unsafe fn arg_bytes<'a>(env: napi_env, v: napi_value, name: &str) -> Result<&'a mut [u8]> {
    let mut kind = -1;
    let mut len = 0usize;
    let mut data: *mut c_void = ptr::null_mut();
    let st = napi_get_typedarray_info(
        env,
        v,
        &mut kind,
        &mut len,
        &mut data,
        ptr::null_mut(),
        ptr::null_mut(),
    );
    if st != NAPI_OK || kind != NAPI_UINT8_ARRAY {
        return Err(invalid(format!("{name} must be a Buffer or Uint8Array")));
    }
    if data.is_null() || len == 0 {
        return Ok(&mut []);
    }
    Ok(std::slice::from_raw_parts_mut(data as *mut u8, len))
}

unsafe fn arg_string(env: napi_env, v: napi_value, name: &str) -> Result<String> {
    let mut len = 0usize;
    if napi_get_value_string_utf8(env, v, ptr::null_mut(), 0, &mut len) != NAPI_OK {
        return Err(invalid(format!("{name} must be a string")));
    }
    let mut buf = vec![0u8; len + 1];
    let mut got = 0usize;
    check(
        napi_get_value_string_utf8(env, v, buf.as_mut_ptr() as *mut c_char, len + 1, &mut got),
        "napi_get_value_string_utf8",
    )?;
    buf.truncate(got);
    String::from_utf8(buf).map_err(|_| invalid(format!("{name} is not valid UTF-8")))
}

fn out_of_range(what: &str, offset: u64, length: u64, size: usize) -> Error {
    Error::new(
        "ERR_OUT_OF_RANGE",
        format!("{what} [{offset}, +{length}) is outside the {size}-byte buffer"),
    )
}

fn byte_range(buf: &[u8], offset: u64, length: u64, what: &str) -> Result<(usize, usize)> {
    match offset.checked_add(length) {
        Some(end) if end <= buf.len() as u64 => Ok((offset as usize, end as usize)),
        _ => Err(out_of_range(what, offset, length, buf.len())),
    }
}

// ---------------------------------------------------------------------------------------------
// Value constructors

unsafe fn js_bool(env: napi_env, b: bool) -> Result<napi_value> {
    let mut v = ptr::null_mut();
    check(napi_get_boolean(env, b, &mut v), "napi_get_boolean")?;
    Ok(v)
}

unsafe fn js_string(env: napi_env, s: &str) -> Result<napi_value> {
    let mut v = ptr::null_mut();
    check(
        napi_create_string_utf8(env, s.as_ptr() as *const c_char, s.len(), &mut v),
        "napi_create_string_utf8",
    )?;
    Ok(v)
}

unsafe fn js_number(env: napi_env, d: f64) -> Result<napi_value> {
    let mut v = ptr::null_mut();
    check(napi_create_double(env, d, &mut v), "napi_create_double")?;
    Ok(v)
}

unsafe fn js_function(
    env: napi_env,
    name: &str,
    cb: napi_callback,
    data: *mut c_void,
) -> Result<napi_value> {
    let mut f = ptr::null_mut();
    check(
        napi_create_function(env, name.as_ptr() as *const c_char, name.len(), cb, data, &mut f),
        "napi_create_function",
    )?;
    Ok(f)
}

unsafe fn define_readonly(
    env: napi_env,
    obj: napi_value,
    props: &[(&CString, napi_value)],
) -> Result<()> {
    let descs: Vec<napi_property_descriptor> = props
        .iter()
        .map(|(name, value)| napi_property_descriptor {
            utf8name: name.as_ptr(),
            name: ptr::null_mut(),
            method: None,
            getter: None,
            setter: None,
            value: *value,
            attributes: NAPI_ENUMERABLE, // not writable, not configurable
            data: ptr::null_mut(),
        })
        .collect();
    check(napi_define_properties(env, obj, descs.len(), descs.as_ptr()), "define_properties")
}

// ---------------------------------------------------------------------------------------------
// The pool object

/// A pool over the mapped file (Pool<Region>) or over a Trace (the crash simulator's view of the
/// same method bodies, trace.rs): every method below is generic over the PM primitives.
struct Pool<R: Pm> {
    region: R,
    closed: Cell<bool>,
    refs: Cell<usize>,
    /// Weak references to the segment ArrayBuffers (for close()).
    segments: RefCell<Vec<napi_ref>>,
}

unsafe fn release<R: Pm>(env: napi_env, pool: *mut Pool<R>) {
    let p = &*pool;
    let n = p.refs.get() - 1;
    p.refs.set(n);
    if n > 0 {
        return;
    }
    if !p.closed.get() {
        p.region.unmap();
        p.closed.set(true);
    }
    for r in p.segments.borrow_mut().drain(..) {
        napi_delete_reference(env, r);
    }
    drop(Box::from_raw(pool));
}

unsafe extern "C" fn segment_finalize<R: Pm>(env: napi_env, _data: *mut c_void, hint: *mut c_void) {
    release(env, hint as *mut Pool<R>);
}

unsafe extern "C" fn method_finalize<R: Pm>(env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    release(env, data as *mut Pool<R>);
}

unsafe fn open_pool<'a, R: Pm>(data: *mut c_void) -> Result<&'a Pool<R>> {
    let p = &*(data as *const Pool<R>);
    if p.closed.get() {
        return Err(Error::new("ERR_POOL_CLOSED", "the pool is closed"));
    }
    Ok(p)
}

unsafe extern "C" fn pool_persist<R: Pm>(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (argv, data) = cb_args::<2>(env, info)?;
            let p = open_pool::<R>(data)?;
            let offset = arg_index(env, argv[0], "offset")?;
            let length = arg_index(env, argv[1], "length")?;
            p.region.check_range(offset, length)?;
            p.region.persist(offset as usize, length as usize)?;
            Ok(ptr::null_mut())
        })(),
    )
}

unsafe extern "C" fn pool_flush<R: Pm>(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (argv, data) = cb_args::<2>(env, info)?;
            let p = open_pool::<R>(data)?;
            let offset = arg_index(env, argv[0], "offset")?;
            let length = arg_index(env, argv[1], "length")?;
            p.region.check_range(offset, length)?;
            p.region.flush(offset as usize, length as usize)?;
            Ok(ptr::null_mut())
        })(),
    )
}

unsafe extern "C" fn pool_drain<R: Pm>(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (_, data) = cb_args::<0>(env, info)?;
            open_pool::<R>(data)?.region.drain();
            Ok(ptr::null_mut())
        })(),
    )
}

unsafe extern "C" fn pool_store64<R: Pm>(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (argv, data) = cb_args::<3>(env, info)?;
            let p = open_pool::<R>(data)?;
            let offset = arg_index(env, argv[0], "offset")?;
            let lo = arg_u32(env, argv[1], "lo")?;
            let hi = arg_u32(env, argv[2], "hi")?;
            if offset % 8 != 0 {
                return Err(invalid(format!("store64 offset {offset} is not 8-byte aligned")));
            }
            p.region.check_range(offset, 8)?;
            p.region.store64(offset as usize, lo as u64 | (hi as u64) << 32);
            Ok(ptr::null_mut())
        })(),
    )
}

/// writeSealed(src, length, seed, dstOffset): seal src[0, length) — its last 8 bytes become the
/// little-endian CRC-64 of the bytes before them, continuing from `seed` — then copy it into the
/// pool at dstOffset (not yet durable: a write). One call instead of crc64Seal + a JS copy, and
/// no view of the record per append: a Node-API call costs more than sealing a small record.
unsafe extern "C" fn pool_write_sealed<R: Pm>(
    env: napi_env,
    info: napi_callback_info,
) -> napi_value {
    guard(
        env,
        (|| {
            let (argv, data) = cb_args::<4>(env, info)?;
            let p = open_pool::<R>(data)?;
            let src = arg_bytes(env, argv[0], "src")?;
            let length = arg_index(env, argv[1], "length")?;
            let seed = arg_u64_bigint(env, argv[2], "seed")?;
            let dst = arg_index(env, argv[3], "dstOffset")?;
            if length < 8 {
                return Err(invalid(format!(
                    "a sealed block needs at least 8 bytes, got {length}"
                )));
            }
            let (_, end) = byte_range(src, 0, length, "sealed block")?;
            p.region.check_range(dst, length)?;
            let body = end - 8;
            let crc = crc64::crc64(seed, &src[..body]);
            src[body..end].copy_from_slice(&crc.to_le_bytes());
            // src may be a view of the pool itself: copy_in is a memmove.
            p.region.copy_in(dst as usize, src.as_ptr(), end);
            Ok(ptr::null_mut())
        })(),
    )
}

/// commit(flushOffset, flushLength, wordOffset, lo, hi): the commit protocol's three steps in
/// order, as one call: make [flushOffset, +flushLength) durable, then ONE aligned 8-byte store
/// of lo | hi << 32 at wordOffset, then make that word durable. Every argument is checked before
/// anything is written, so a bad call changes nothing.
unsafe extern "C" fn pool_commit<R: Pm>(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (argv, data) = cb_args::<5>(env, info)?;
            let p = open_pool::<R>(data)?;
            let offset = arg_index(env, argv[0], "flushOffset")?;
            let length = arg_index(env, argv[1], "flushLength")?;
            let word = arg_index(env, argv[2], "wordOffset")?;
            let lo = arg_u32(env, argv[3], "lo")?;
            let hi = arg_u32(env, argv[4], "hi")?;
            if word % 8 != 0 {
                return Err(invalid(format!("commit word offset {word} is not 8-byte aligned")));
            }
            p.region.check_range(offset, length)?;
            p.region.check_range(word, 8)?;
            // flush + drain is persist's split form; the drain is the fence that orders the records'
            // write-back before the commit store.
            p.region.flush(offset as usize, length as usize)?;
            p.region.drain();
            p.region.store64(word as usize, lo as u64 | (hi as u64) << 32);
            p.region.persist(word as usize, 8)?;
            Ok(ptr::null_mut())
        })(),
    )
}

unsafe extern "C" fn pool_close<R: Pm>(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (_, data) = cb_args::<0>(env, info)?;
            let p = open_pool::<R>(data)?;
            // Detach every live view first; unmap only if all of them are gone.
            // A snapshot: no RefCell borrow may be held while Node-API runs (a finalizer could
            // release the Pool's references re-entrantly).
            let refs: Vec<napi_ref> = p.segments.borrow().clone();
            let mut failed = false;
            for r in refs {
                let mut ab = ptr::null_mut();
                if napi_get_reference_value(env, r, &mut ab) != NAPI_OK
                    || (!ab.is_null() && napi_detach_arraybuffer(env, ab) != NAPI_OK)
                {
                    failed = true;
                }
            }
            if failed {
                return Err(Error::new(
                    "ERR_DETACH_FAILED",
                    "could not detach the pool's segments; the pool stays mapped",
                ));
            }
            p.region.unmap();
            p.closed.set(true);
            for r in p.segments.borrow_mut().drain(..) {
                napi_delete_reference(env, r);
            }
            Ok(ptr::null_mut())
        })(),
    )
}

/// Build the JS object for a freshly mapped region.
unsafe fn pool_object(env: napi_env, region: Region) -> Result<napi_value> {
    let size = region.len();
    let base = region.base();
    let backend = region.backend().name();
    let is_pmem = region.is_pmem();
    let pool = Box::into_raw(Box::new(Pool {
        region,
        closed: Cell::new(false),
        refs: Cell::new(1), // the construction reference, released below
        segments: RefCell::new(Vec::new()),
    }));
    let built = build_pool_object(env, pool, size, base, backend, is_pmem, &[]);
    release(env, pool);
    built
}

/// takeTrace(dst): move the trace recorded so far into dst (a Buffer of at least traceBytes()
/// bytes); returns its length. traceBytes(): the length recorded so far. Trace pools only.
unsafe extern "C" fn trace_take(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (argv, data) = cb_args::<1>(env, info)?;
            let p = open_pool::<Trace>(data)?;
            let dst = arg_bytes(env, argv[0], "dst")?;
            let n = p.region.pending();
            if dst.len() < n {
                return Err(out_of_range("trace", 0, n as u64, dst.len()));
            }
            js_number(env, p.region.take(dst) as f64)
        })(),
    )
}

unsafe extern "C" fn trace_bytes(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (_, data) = cb_args::<0>(env, info)?;
            js_number(env, open_pool::<Trace>(data)?.region.pending() as f64)
        })(),
    )
}

/// The JS object of a trace pool of `size` bytes: the pool's methods over a Trace (trace.rs),
/// plus takeTrace and traceBytes; no segments (it has no memory).
unsafe fn trace_pool_object(env: napi_env, size: usize) -> Result<napi_value> {
    let pool = Box::into_raw(Box::new(Pool {
        region: Trace::new(size),
        closed: Cell::new(false),
        refs: Cell::new(1),
        segments: RefCell::new(Vec::new()),
    }));
    let extra: [(&str, napi_callback); 2] =
        [("takeTrace", Some(trace_take)), ("traceBytes", Some(trace_bytes))];
    let built = build_pool_object(env, pool, size, ptr::null_mut(), "trace", false, &extra);
    release(env, pool);
    built
}

unsafe fn build_pool_object<R: Pm>(
    env: napi_env,
    pool: *mut Pool<R>,
    size: usize,
    base: *mut u8,
    backend: &str,
    is_pmem: bool,
    extra: &[(&str, napi_callback)],
) -> Result<napi_value> {
    let p = &*pool;
    let nseg = if base.is_null() { 0 } else { size.div_ceil(SEGMENT_BYTES) };
    let mut segments = ptr::null_mut();
    check(napi_create_array_with_length(env, nseg, &mut segments), "create_array")?;
    for i in 0..nseg {
        let off = i * SEGMENT_BYTES;
        let len = SEGMENT_BYTES.min(size - off);
        let mut buf = ptr::null_mut();
        check(
            napi_create_external_buffer(
                env,
                len,
                base.add(off) as *mut c_void,
                Some(segment_finalize::<R>),
                pool as *mut c_void,
                &mut buf,
            ),
            "napi_create_external_buffer",
        )?;
        p.refs.set(p.refs.get() + 1);
        let mut ab = ptr::null_mut();
        check(
            napi_get_typedarray_info(
                env,
                buf,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                &mut ab,
                ptr::null_mut(),
            ),
            "napi_get_typedarray_info",
        )?;
        let mut weak = ptr::null_mut();
        check(napi_create_reference(env, ab, 0, &mut weak), "napi_create_reference")?;
        p.segments.borrow_mut().push(weak);
        check(napi_set_element(env, segments, i as u32, buf), "napi_set_element")?;
    }
    check(napi_object_freeze(env, segments), "napi_object_freeze")?;

    let mut names: Vec<CString> = Vec::new();
    let mut values: Vec<napi_value> = Vec::new();
    for (name, v) in [
        ("sizeBytes", js_number(env, size as f64)?),
        ("segments", segments),
        ("backend", js_string(env, backend)?),
        ("isPmem", js_bool(env, is_pmem)?),
    ] {
        names.push(cstring_lossy(name));
        values.push(v);
    }
    let methods: [(&str, napi_callback); 7] = [
        ("persist", Some(pool_persist::<R>)),
        ("flush", Some(pool_flush::<R>)),
        ("drain", Some(pool_drain::<R>)),
        ("store64", Some(pool_store64::<R>)),
        ("writeSealed", Some(pool_write_sealed::<R>)),
        ("commit", Some(pool_commit::<R>)),
        ("close", Some(pool_close::<R>)),
    ];
    for &(name, cb) in methods.iter().chain(extra.iter()) {
        let f = js_function(env, name, cb, pool as *mut c_void)?;
        check(
            napi_add_finalizer(
                env,
                f,
                pool as *mut c_void,
                Some(method_finalize::<R>),
                ptr::null_mut(),
                ptr::null_mut(),
            ),
            "napi_add_finalizer",
        )?;
        p.refs.set(p.refs.get() + 1);
        names.push(cstring_lossy(name));
        values.push(f);
    }
    let props: Vec<(&CString, napi_value)> = names.iter().zip(values).collect();
    let mut obj = ptr::null_mut();
    check(napi_create_object(env, &mut obj), "napi_create_object")?;
    define_readonly(env, obj, &props)?;
    Ok(obj)
}

// ---------------------------------------------------------------------------------------------
// Module functions

unsafe extern "C" fn create_pool(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (argv, _) = cb_args::<2>(env, info)?;
            let path = arg_string(env, argv[0], "path")?;
            let size = arg_index(env, argv[1], "sizeBytes")?;
            pool_object(env, Region::create(&path, size)?)
        })(),
    )
}

/// createTracePool(sizeBytes): a pool that records its primitives instead of performing them
/// (trace.rs); the crash simulator replays them.
unsafe extern "C" fn create_trace_pool(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (argv, _) = cb_args::<1>(env, info)?;
            let size = arg_index(env, argv[0], "sizeBytes")?;
            if size > isize::MAX as u64 / 2 {
                return Err(invalid(format!("trace pool size {size} is too large")));
            }
            trace_pool_object(env, size as usize)
        })(),
    )
}

unsafe extern "C" fn open_pool_fn(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (argv, _) = cb_args::<1>(env, info)?;
            let path = arg_string(env, argv[0], "path")?;
            pool_object(env, Region::open(&path)?)
        })(),
    )
}

unsafe fn crc_args<'a, const N: usize>(
    env: napi_env,
    info: napi_callback_info,
) -> Result<([napi_value; N], &'a mut [u8], u64)> {
    let (argv, _) = cb_args::<N>(env, info)?;
    let buf = arg_bytes(env, argv[0], "buf")?;
    let offset = arg_index(env, argv[1], "offset")?;
    let length = arg_index(env, argv[2], "length")?;
    let seed = arg_u64_bigint(env, argv[3], "seed")?;
    let (start, end) = byte_range(buf, offset, length, "crc range")?;
    let crc = crc64::crc64(seed, &buf[start..end]);
    Ok((argv, buf, crc))
}

unsafe fn dst_offset(env: napi_env, v: napi_value, buf: &[u8]) -> Result<usize> {
    let dst = arg_index(env, v, "dstOffset")?;
    Ok(byte_range(buf, dst, 8, "crc destination")?.0)
}

unsafe extern "C" fn crc64_fn(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (_, _, crc) = crc_args::<4>(env, info)?;
            let mut v = ptr::null_mut();
            check(napi_create_bigint_uint64(env, crc, &mut v), "napi_create_bigint_uint64")?;
            Ok(v)
        })(),
    )
}

unsafe extern "C" fn crc64_seal(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (argv, buf, crc) = crc_args::<5>(env, info)?;
            let dst = dst_offset(env, argv[4], buf)?;
            buf[dst..dst + 8].copy_from_slice(&crc.to_le_bytes());
            Ok(ptr::null_mut())
        })(),
    )
}

unsafe extern "C" fn crc64_verify(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(
        env,
        (|| {
            let (argv, buf, crc) = crc_args::<5>(env, info)?;
            let dst = dst_offset(env, argv[4], buf)?;
            let mut stored = [0u8; 8];
            stored.copy_from_slice(&buf[dst..dst + 8]);
            js_bool(env, u64::from_le_bytes(stored) == crc)
        })(),
    )
}

unsafe fn native_info(env: napi_env) -> Result<napi_value> {
    let selected = region::selected_backend();
    let mut available: Vec<&str> = Vec::new();
    let forced_mmap = std::env::var("CAPYKV_PMEM_BACKEND").as_deref() == Ok("mmap");
    if !forced_mmap && pmem_sys::libpmem().is_ok() {
        available.push("libpmem");
    }
    available.push("mmap");
    let mut list = ptr::null_mut();
    check(napi_create_array_with_length(env, available.len(), &mut list), "create_array")?;
    for (i, name) in available.iter().enumerate() {
        check(napi_set_element(env, list, i as u32, js_string(env, name)?), "set_element")?;
    }
    check(napi_object_freeze(env, list), "napi_object_freeze")?;
    let backend = match selected {
        Ok(b) => js_string(env, b.name())?,
        Err(_) => {
            let mut null = ptr::null_mut();
            check(napi_get_null(env, &mut null), "napi_get_null")?;
            null
        }
    };
    let names = [
        cstring_lossy("backendAvailable"),
        cstring_lossy("backend"),
        cstring_lossy("version"),
        cstring_lossy("crc64Impl"),
    ];
    let values = [
        list,
        backend,
        js_string(env, env!("CARGO_PKG_VERSION"))?,
        js_string(env, crc64::implementation())?,
    ];
    let props: Vec<(&CString, napi_value)> = names.iter().zip(values).collect();
    let mut obj = ptr::null_mut();
    check(napi_create_object(env, &mut obj), "napi_create_object")?;
    define_readonly(env, obj, &props)?;
    Ok(obj)
}

unsafe fn register(env: napi_env, exports: napi_value) -> Result<napi_value> {
    let fns: [(&str, napi_callback); 6] = [
        ("createPool", Some(create_pool)),
        ("createTracePool", Some(create_trace_pool)),
        ("openPool", Some(open_pool_fn)),
        ("crc64", Some(crc64_fn)),
        ("crc64Seal", Some(crc64_seal)),
        ("crc64Verify", Some(crc64_verify)),
    ];
    for (name, cb) in fns {
        let f = js_function(env, name, cb, ptr::null_mut())?;
        let cname = cstring_lossy(name);
        check(napi_set_named_property(env, exports, cname.as_ptr(), f), "set_named_property")?;
    }
    let info = native_info(env)?;
    check(
        napi_set_named_property(env, exports, c"nativeInfo".as_ptr(), info),
        "set_named_property",
    )?;
    Ok(exports)
}

#[no_mangle]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
    8
}

/// # Safety
/// Called by Node.js with a valid env and exports object, on the JS thread.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    guard(env, register(env, exports))
}
