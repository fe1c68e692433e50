/* SPDX-License-Identifier: GPL-2.0-only */
/* Host shim of Xen's <xen/string.h>: memcpy, memset, memcmp from the host's libc. */
#ifndef TSD_HOST_XEN_STRING_H
#define TSD_HOST_XEN_STRING_H

#include <string.h>

#endif
