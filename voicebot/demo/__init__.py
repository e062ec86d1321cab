"""The demo back office (bank, shop, parcel carrier, city hotline) that the demo flows call.

Not part of the product: the service mounts it under ``/demo`` only when ``web.demo_backend`` is on (the
default, so the demo flows work out of the box); ``voicebot demo-backend`` runs it alone.
"""
