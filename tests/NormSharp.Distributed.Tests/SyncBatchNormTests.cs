using NormSharp.Distributed;
using NormSharp.Nn;

namespace NormSharp.Distributed.Tests;

/// <summary>SyncBatchNorm's module behaviour: conversion, fallbacks, bad input. Numerics: <see cref="ThreadBackendTests"/>.</summary>
public class SyncBatchNormTests
{
    [Fact]
    public void Convert_replaces_every_batch_norm_keeping_keys_parameters_and_statistics()
    {
        ProcessGroup.RunThreads(1, group =>
        {
            var batchNorm = new BatchNorm2d(4, momentum: null, channelAxis: -1);
            batchNorm.RunningMean!.AsSpan().Fill(2);
            batchNorm.NumBatchesTracked = 5;
            batchNorm.Eval();
            var inner = new Sequential(new Linear(3, 3), new BatchNorm1d(3), new ReLU());
            var model = new Sequential(batchNorm, inner);
            var keys = model.StateDict().Keys.ToList();
            var weight = batchNorm.Weight;

            Assert.Same(model, SyncBatchNorm.Convert(model, group));

            var converted = Assert.IsType<SyncBatchNorm>(model[0]);
            Assert.IsType<SyncBatchNorm>(inner[1]);
            Assert.Equal(keys, model.StateDict().Keys.ToList());
            Assert.Same(weight, converted.Weight);   // an optimizer built before the conversion still trains it
            Assert.Equal(2f, converted.RunningMean!.ToArray()[0]);
            Assert.Equal(5, converted.NumBatchesTracked);
            Assert.Null(converted.Momentum);
            Assert.Equal(-1, converted.ChannelAxis);
            Assert.False(converted.Training);
            Assert.IsType<SyncBatchNorm>(SyncBatchNorm.Convert(new BatchNorm3d(2), group));
        });
    }

    [Fact]
    public void One_rank_and_evaluation_are_plain_batch_norm()
    {
        ProcessGroup.RunThreads(1, group =>
        {
            var input = Tensor.Randn(new Generator(3), 6, 2, 3);
            var synced = new SyncBatchNorm(2, group);
            var plain = new BatchNorm1d(2);
            Assert.Equal(plain.Forward(input).ToArray(), synced.Forward(input).ToArray());
            Assert.Equal(plain.RunningVar!.ToArray(), synced.RunningVar!.ToArray());
            synced.Eval();
            plain.Eval();
            Assert.Equal(plain.Forward(input).ToArray(), synced.Forward(input).ToArray());
        });
    }

    [Fact]
    public void One_value_per_channel_over_all_ranks_is_refused_on_every_rank()
    {
        var errors = new Exception?[2];
        var tracked = new long[2];
        Assert.Throws<RankFailedException>(() => ProcessGroup.RunThreads(2, group =>
        {
            var layer = new SyncBatchNorm(3, group);
            errors[group.Rank] = Record.Exception(() => layer.Forward(Tensor.Zeros(group.Rank == 0 ? 1 : 0, 3)));
            tracked[group.Rank] = layer.NumBatchesTracked;
            throw errors[group.Rank]!;
        }));
        Assert.All(errors, e => Assert.Contains("Expected more than 1 value per channel over all ranks when training, got 1",
            Assert.IsType<ArgumentException>(e).Message, StringComparison.Ordinal));
        Assert.Equal([0, 0], tracked);
    }

    [Fact]
    public void Wrong_channel_count_or_rank_is_refused_naming_both()
    {
        ProcessGroup.RunThreads(1, group =>
        {
            var layer = new SyncBatchNorm(3, group);
            var channels = Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(4, 5)));
            Assert.Contains("expected 3 channels (numFeatures) along axis 1, got 5", channels.Message, StringComparison.Ordinal);
            var rank = Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(3)));
            Assert.Contains("at least 2-D input (N, C, *), got 1-D", rank.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentNullException>(() => new SyncBatchNorm(3, null!));
        });
    }
}
