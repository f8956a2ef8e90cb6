//! Runtime from windows-drivers-rs for the WDK build: `wdk-alloc`'s pool allocator,
//! `wdk-panic`'s panic handler, and `wdk-sys` (which defines `_fltused`).

use wdk_alloc::WdkAllocator;
use wdk_panic as _;
use wdk_sys as _;

#[global_allocator]
static GLOBAL_ALLOCATOR: WdkAllocator = WdkAllocator;
