/* sensor_shared.h - what all workers share, read-only while they run
 * (the policy pointer is swapped atomically on SIGHUP; the old one is
 * freed only after every worker has moved past it). */
#ifndef MAILSIFT_SENSOR_SHARED_H
#define MAILSIFT_SENSOR_SHARED_H

#include <stdatomic.h>
#include "sensor.h"

struct out_writer;
struct event_sink;

struct sensor_shared {
	const struct sensor_config *cfg;
	struct out_writer *out;
	struct event_sink *sink;   /* enrichment, policy, aggregation */
};

#endif
