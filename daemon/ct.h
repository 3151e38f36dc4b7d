/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_CT_H
#define SBXFWD_CT_H

#include <stddef.h>
#include <stdint.h>

/* Delete the conntrack entries whose mark & mask == mark (ctnetlink), so
 * that a sandbox's flows end with it. */
int ct_flush_mark(uint32_t mark, uint32_t mask, char *err, size_t errlen);

#endif
