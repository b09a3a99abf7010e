"""Tests of dscrm_bridge.sync (and the SQL gateway it reads through)."""
