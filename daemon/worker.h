/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_WORKER_H
#define SBXFWD_WORKER_H

#include <pthread.h>
#include <stdbool.h>

/* Ask a worker thread that waits on `wake' under `lock' to stop, and
 * wait for it. */
static inline void worker_stop(pthread_mutex_t *lock, pthread_cond_t *wake,
			       bool *stopping, pthread_t thread)
{
	pthread_mutex_lock(lock);
	*stopping = true;
	pthread_cond_signal(wake);
	pthread_mutex_unlock(lock);
	pthread_join(thread, NULL);
}

#endif
