/* augment.h — the whole public API of libaugment.
 *
 * Include this one header; it includes every module's header. Each module's
 * header also compiles on its own.
 */
#ifndef AUGMENT_H
#define AUGMENT_H

#include "augment/core.h"
#include "augment/codec.h"
#include "augment/data.h"
#include "augment/pipeline.h"
#include "augment/nn.h"
#include "augment/train.h"

#endif /* AUGMENT_H */
