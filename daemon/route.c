/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>

#include "route.h"

static struct mnl_socket *nl;

static int attr_cb(const struct nlattr *a, void *data)
{
	uint32_t *oif = data;

	if (mnl_attr_get_type(a) == RTA_OIF &&
	    mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
		*oif = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct rtmsg), attr_cb, data);
}

int route_oif(int family, const uint8_t *addr, char name[IF_NAMESIZE])
{
	char buf[8192];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rt;
	uint32_t oif = 0;
	int n;

	if (!nl && (!(nl = mnl_socket_open(NETLINK_ROUTE)) ||
		    mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0))
		return -errno;
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = (unsigned char)family;
	rt->rtm_dst_len = family == AF_INET ? 32 : 128;
	mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, addr);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ||
	    (n = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf))) < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)n, 0, 0, route_cb, &oif) < 0)
		return -errno;
	if (!oif || !if_indextoname(oif, name))
		return -ENOENT;
	return 0;
}

void route_fini(void)
{
	if (nl)
		mnl_socket_close(nl);
	nl = NULL;
}
