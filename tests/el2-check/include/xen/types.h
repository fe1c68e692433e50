/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host shim of Xen's <xen/types.h> for tests/el2-check: only what
 * xen/arch/arm/tee/stubdom_check.[ch] use (fixed-width integers, NULL, bool).
 */
#ifndef TSD_HOST_XEN_TYPES_H
#define TSD_HOST_XEN_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#endif
