/* SPDX-License-Identifier: MIT */
/*
 * The thread pools: TUN readers, UDP readers, crypto workers, UDP
 * writers, TUN writers, handshake workers, and one timer thread, sized
 * by the command line (wg_options). Their loops live in pipeline.c; the
 * work they do, in send.c, receive.c and handshake.c.
 *
 * All four calls are for the thread that holds the device's config_lock.
 */
#ifndef WGPIPE_PIPELINE_H
#define WGPIPE_PIPELINE_H

struct wg_device;

int wg_pipeline_start(struct wg_device *dev);
/* Joins every thread; the device must be stopping. */
void wg_pipeline_stop(struct wg_device *dev);
/* Stop and restart the UDP readers around a socket swap. */
void wg_pipeline_stop_udp_readers(struct wg_device *dev);
int wg_pipeline_start_udp_readers(struct wg_device *dev);

#endif
