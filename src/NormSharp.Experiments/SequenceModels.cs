using NormSharp.Nn;

namespace NormSharp.Cli.Experiments;

/// <summary>
/// The recurrent classifiers of the demo's sequence section and of <c>train --model lstm|bnlstm|lnlstm</c>: an image
/// [1, rows, columns] is read row by row, a sequence of rows steps of columns features, and the last hidden state goes
/// through Linear → classes (the pixel-row task of Cooijmans et al. 2016, on Fashion-MNIST).
/// </summary>
internal static class SequenceModels
{
    /// <summary>Hidden units of every recurrent classifier.</summary>
    public const int HiddenSize = 128;

    /// <summary>The classifier for <paramref name="kind"/>, wrapped in a <see cref="Sequential"/> as the CLI's other models are.</summary>
    public static Sequential RowReader(ModelKind kind, int[] sampleShape, int classCount, Generator generator)
    {
        if (sampleShape.Length != 3 || sampleShape[0] != 1)
        {
            throw new ArgumentException($"The recurrent models read one-channel images [1, rows, columns] row by row, got samples of shape [{string.Join(", ", sampleShape)}].");
        }
        int rows = sampleShape[1], columns = sampleShape[2];
        Module recurrent = kind switch
        {
            ModelKind.BnLstm => new BatchNormLSTM(columns, HiddenSize, maxLength: rows, generator: generator),
            ModelKind.LnLstm => new LayerNormLSTM(columns, HiddenSize, generator: generator),
            _ => new LSTM(columns, HiddenSize, generator: generator),
        };
        return new Sequential(new RowSequenceClassifier(recurrent, rows, columns, classCount, generator));
    }
}

/// <summary>
/// Images [N, 1, rows, columns] → sequences (rows, N, columns) → a recurrent layer whose Forward gives every hidden
/// state (L, N, H) → the last step's state → Linear(H, classes). Children <c>rnn</c> and <c>head</c>.
/// </summary>
internal sealed class RowSequenceClassifier : Module
{
    private readonly Module recurrent;
    private readonly Linear head;
    private readonly int rows, columns;

    public RowSequenceClassifier(Module recurrent, int rows, int columns, int classCount, Generator generator)
    {
        (this.rows, this.columns) = (rows, columns);
        this.recurrent = RegisterModule("rnn", recurrent);
        head = RegisterModule("head", new Linear(SequenceModels.HiddenSize, classCount, generator: generator));
    }

    public override Tensor Forward(Tensor input)
    {
        int batch = input.Size(0);
        var sequence = input.Reshape(batch, rows, columns).Transpose(0, 1);   // time first: (rows, N, columns)
        var states = recurrent.Forward(sequence);
        return head.Forward(states[rows - 1]);
    }

    public override string ToString() => $"RowSequenceClassifier({recurrent}, rows: {rows}, head: {head})";
}
