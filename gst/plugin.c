/* plugin.c — the GStreamer plugin "vdds": registers vddssink and vddssrc. */
#include "vddsgst.h"

GST_DEBUG_CATEGORY(vddsgst_debug);

static gboolean plugin_init(GstPlugin *plugin)
{
	GST_DEBUG_CATEGORY_INIT(vddsgst_debug, "vdds", 0, "vddssink and vddssrc");
	return gst_element_register(plugin, "vddssink", GST_RANK_NONE, GST_TYPE_VDDS_SINK) &&
	       gst_element_register(plugin, "vddssrc", GST_RANK_NONE, GST_TYPE_VDDS_SRC);
}

#define PACKAGE "vdds"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, vdds,
		  "Zero-copy video between processes through vdds shared memory", plugin_init,
		  VDDS_GST_VERSION, GST_LICENSE_UNKNOWN, "vdds", "vdds")
