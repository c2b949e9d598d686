"""Reference weighted kNN predictions from PyTorch for the Go tests.

Usage: knn_predict.py DIR N_BANK N_TEST DIM CLASSES K T

Reads DIR/bank.f32 ([N_BANK, DIM] float32), DIR/bank_labels.i32 and
DIR/test.f32 ([N_TEST, DIM]), all little-endian; L2-normalises the features
and runs knn_predict as MoCo's CIFAR-10 demonstration defines it; writes
DIR/pred.i32 (the top class per test row) and DIR/scores.f32 ([N_TEST,
CLASSES], pred_scores).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F


def knn_predict(feature, feature_bank, feature_labels, classes, knn_k, knn_t):
    # [B, N]: cosine similarity of each test feature to the bank.
    sim_matrix = torch.mm(feature, feature_bank)
    # [B, K]
    sim_weight, sim_indices = sim_matrix.topk(k=knn_k, dim=-1)
    # [B, K]
    sim_labels = torch.gather(feature_labels.expand(feature.size(0), -1), dim=-1,
                              index=sim_indices)
    sim_weight = (sim_weight / knn_t).exp()
    # [B*K, C]
    one_hot_label = torch.zeros(feature.size(0) * knn_k, classes, device=sim_labels.device)
    one_hot_label = one_hot_label.scatter(dim=-1, index=sim_labels.view(-1, 1), value=1.0)
    # [B, C]: weighted score per class.
    pred_scores = torch.sum(
        one_hot_label.view(feature.size(0), -1, classes) * sim_weight.unsqueeze(dim=-1), dim=1)
    pred_labels = pred_scores.argsort(dim=-1, descending=True)
    return pred_labels, pred_scores


def main():
    d = sys.argv[1]
    n_bank, n_test, dim, classes, k = (int(a) for a in sys.argv[2:7])
    t = float(sys.argv[7])
    torch.set_num_threads(1)

    def read(name, dtype, shape):
        return torch.from_numpy(np.fromfile(os.path.join(d, name), dtype=dtype).reshape(shape))

    bank = F.normalize(read("bank.f32", "<f4", (n_bank, dim)), dim=1)
    labels = read("bank_labels.i32", "<i4", (n_bank,)).long()
    test = F.normalize(read("test.f32", "<f4", (n_test, dim)), dim=1)
    # The demo keeps the bank as [dim, N].
    pred_labels, pred_scores = knn_predict(test, bank.t().contiguous(), labels, classes, k, t)
    pred_labels[:, 0].numpy().astype("<i4").tofile(os.path.join(d, "pred.i32"))
    pred_scores.numpy().astype("<f4").tofile(os.path.join(d, "scores.f32"))


if __name__ == "__main__":
    main()
