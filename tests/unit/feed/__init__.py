"""Tests of dscrm_bridge.feed."""
