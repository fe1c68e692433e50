/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host shim of Xen's <xen/errno.h>: the host's errno names. The values differ
 * from Xen's, so the tests compare names (EINVAL, EPERM, E2BIG, ENOMEM), never
 * numbers.
 */
#ifndef TSD_HOST_XEN_ERRNO_H
#define TSD_HOST_XEN_ERRNO_H

#include <errno.h>

#endif
