/* SPDX-License-Identifier: MIT */
/*
 * The thread pools: TUN readers, UDP readers, crypto workers, UDP
 * writers, TUN writers, handshake workers, and one timer thread. Every
 * thread registers with RCU (memb flavour) and is named by its stage.
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
