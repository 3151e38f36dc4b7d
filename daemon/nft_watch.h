/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_NFT_WATCH_H
#define SBXFWD_NFT_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The nftables events (the group `nft monitor' reads): whether another
 * program changed or removed the table. */
int nft_watch_open(char *err, size_t errlen);
/* Reads what is waiting; true when a change to the table came from
 * another netlink port than `own' (or events were lost), `who' then
 * names the program when the kernel said ("nft (pid 1234)"). */
bool nft_watch_read(uint32_t own, char *who, size_t wholen);
/* The program of the change just seen, when its batch's NEWGEN (which
 * comes last) had not come yet: read for it, wait_ms at most. */
void nft_watch_who(uint32_t own, char *who, size_t wholen, int wait_ms);
void nft_watch_close(void);

#endif
