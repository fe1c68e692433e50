/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tests/el2-check/optee_model.h: what OP-TEE 4.10 reads, by address, from a
 * message Xen accepted, and whether each address is allowed.
 *
 * The invariant (issue 12, item 1): every non-secure page OP-TEE uses for a
 * call is a page of its client that Xen holds for it, or a page Xen lent for
 * this check. The model follows OP-TEE's own readers:
 *  - every parameter (a superset of core/tee/entry_std.c copy_in_params(),
 *    used by OPEN_SESSION, INVOKE_COMMAND, GET_PROTMEM_CONFIG):
 *    set_tmem_param() treats buf_ptr 0 as a null reference; a NONCONTIG
 *    buf_ptr is a page list (core/kernel/msg_param.c); another buf_ptr is a
 *    physical range;
 *  - OPTEE_MSG_CMD_REGISTER_SHM: register_shm() passes buf_ptr to
 *    msg_param_mobj_from_noncontig() with no null case;
 *  - OPTEE_MSG_CMD_LEND_PROTMEM (CFG_CORE_DYN_PROTMEM): lend_protmem() takes
 *    buf_ptr and size of a TMEM_INPUT as a physical range, no null case;
 *  - an RPC answer to OPTEE_RPC_CMD_SHM_ALLOC: get_rpc_alloc_res()
 *    (core/arch/arm/kernel/thread_optee_smc.c) maps a TMEM_OUTPUT buf_ptr
 *    as one page (rpc_shm_mobj_alloc(), dynamic SHM) or a TMEM_OUTPUT |
 *    NONCONTIG buf_ptr as a page list, no null case.
 * A page list is walked as msg_param_extract_pages() does: (offset + size -
 * 1) / 4 KiB + 1 entries, 511 a page, the next pointer read only when more
 * entries follow. Where OP-TEE itself refuses (a list or buffer page that is
 * not non-secure RAM, a misaligned entry or next pointer), it reads no
 * further and the model stops there.
 *
 * Each function returns NULL when every page OP-TEE would use is allowed,
 * else a description of the first one that is not.
 */
#ifndef TSD_EL2_OPTEE_MODEL_H
#define TSD_EL2_OPTEE_MODEL_H

#include "sim.h"

/* optee_msg.h */
#define MSG_ATTR_TYPE_NONE          0x0
#define MSG_ATTR_TYPE_VALUE_INPUT   0x1
#define MSG_ATTR_TYPE_VALUE_OUTPUT  0x2
#define MSG_ATTR_TYPE_VALUE_INOUT   0x3
#define MSG_ATTR_TYPE_RMEM_INPUT    0x5
#define MSG_ATTR_TYPE_RMEM_OUTPUT   0x6
#define MSG_ATTR_TYPE_RMEM_INOUT    0x7
#define MSG_ATTR_TYPE_TMEM_INPUT    0x9
#define MSG_ATTR_TYPE_TMEM_OUTPUT   0xa
#define MSG_ATTR_TYPE_TMEM_INOUT    0xb
#define MSG_ATTR_META               (1ULL << 8)
#define MSG_ATTR_NONCONTIG          (1ULL << 9)
#define MSG_CMD_OPEN_SESSION        0
#define MSG_CMD_INVOKE_COMMAND      1
#define MSG_CMD_REGISTER_SHM        4
#define MSG_CMD_LEND_PROTMEM        8
/* optee_rpc_cmd.h */
#define RPC_CMD_SHM_ALLOC           6
/* tee_api_defines.h: what OP-TEE's get_rpc_arg() puts in ret before an RPC. */
#define TEE_ERROR_GENERIC           0xffff0000U

/* The argument at arg (a lent page) that Xen accepted with this size. */
const char *optee_read_arg(const struct sim *s, const uint8_t *arg,
                           unsigned int size, unsigned int rpc_params);
/* The RPC answer at msg (in a lent page) that Xen accepted. */
const char *optee_read_rpc_answer(const struct sim *s, const uint8_t *msg);

/* Statistics of the last call (for the fuzzer's corpus report). */
extern unsigned long optee_model_entries, optee_model_lists;

#endif
