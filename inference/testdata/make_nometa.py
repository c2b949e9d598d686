"""Write nometa.onnx: a one-node ONNX model (Identity) without mocokit
metadata, to check that inference rejects foreign models clearly.

Usage: /usr/bin/python3 make_nometa.py  (writes next to this script)
"""
import os

import onnx
from onnx import TensorProto, helper

x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])
y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, 32, 32])
graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])],
                          "nometa", [x], [y])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 7
onnx.save(model, os.path.join(os.path.dirname(os.path.abspath(__file__)), "nometa.onnx"))
