"""FPGA deployment with hls4ml: conversion, bit-accurate emulation, resource/latency estimates."""
