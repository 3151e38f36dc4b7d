/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_ROUTE_H
#define SBXFWD_ROUTE_H

#include <net/if.h>
#include <stdint.h>

/* The interface the route to addr leaves by (rtnetlink), into name;
 * -errno when there is none. */
int route_oif(int family, const uint8_t *addr, char name[IF_NAMESIZE]);
void route_fini(void);

#endif
