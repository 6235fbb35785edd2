using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Visuals;
using Maskwork.Host.Cli;
using Maskwork.Host.Data;
using Maskwork.Host.Runs;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Host.Commands;

/// <summary>What <c>maskwork masks</c> takes.</summary>
/// <param name="Recipe">The recipe whose tokenizer and masker draw the masks.</param>
/// <param name="Out">The PNG to write.</param>
/// <param name="Data">The data (default: the recipe's test split).</param>
/// <param name="Count">How many samples.</param>
/// <param name="Sets">Overrides: model.*, data.*, train.steps (the span of mask schedules), seed.</param>
/// <param name="Step">The training step whose masks to draw (schedules).</param>
public sealed record MasksArgs(string Recipe, string Out, string? Data = null, int Count = 8, IReadOnlyList<string>? Sets = null, long Step = 0);

/// <summary>
/// <c>masks</c>: what a recipe's masker hides on real samples, as the trainer would draw it at a step (same
/// per-sample keys: the sample's index, the seed and the step). Guided maskers get their guidance from the
/// recipe's objective at initialisation (there is no run to load).
/// </summary>
public sealed class MasksCommand(Workspace workspace)
{
    public async Task<int> RunAsync(MasksArgs args, Output output, CancellationToken ct)
    {
        if (args.Count <= 0) throw new UsageException("--count must be positive");
        var (job, recipe) = JobConfig.Resolve(new PretrainArgs { Recipe = args.Recipe, Data = args.Data, Sets = args.Sets ?? [] }, workspace.Catalog);
        var device = workspace.Device(job.Device);
        var spec = args.Data is null ? job.DataSpec("test") : job.DataSpec();
        var data = await DataLoading.LoadAsync(spec, workspace.Catalog.Registry, workspace.Options.FailOnBadInput, ct, limit: args.Count);
        if (data.Samples.Count == 0) throw new CommandException($"{spec} produced no samples");
        manual_seed(job.Seed);
        ModelParts parts;
        try { parts = recipe.Build(job.ModelOptions(recipe), new BuildContext(device, spec) { Tokenizers = workspace.Catalog.Registry, Seed = job.Seed }); }
        catch (ArgumentException e) { throw new CommandException($"recipe {recipe.Name}: {e.Message}"); }

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var model = new Backend.Training.MaskedModel(parts);
        model.to(device);
        model.eval();
        var samples = data.Samples.Select((s, i) => s.Index >= 0 ? s : s with { Index = i }).ToList();
        var tokens = parts.Tokenizer.Tokenize(samples, device);
        tokens = tokens with { SampleKeys = MaskRandom.KeysOf(samples).to(device) };
        using var generator = new Generator((ulong)job.Seed);
        MaskPlan plan;
        try { plan = model.Plan(tokens, new MaskContext(args.Step, generator) { Seed = job.Seed, TotalSteps = job.Train.Steps }); }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException) { throw new CommandException($"{recipe.Name}: {e.Message}"); }

        string title = $"{recipe.Name}: {Describe(job)} — step {args.Step}, {plan.MaskedCount} of {tokens.TokenCount} tokens hidden";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(args.Out))!);
        if (parts.MaskRenderer is { } renderer)
        {
            var (h, w, rgb) = renderer.Render(tokens, plan, parts.Tokenizer);
            new RgbImage(w, h, rgb).SavePng(args.Out);
        }
        else
        {
            string axis = tokens.Layout is GridLayout g ? g.AxisNames[0] : "t";
            try { MaskPicture.Draw(MaskPicture.Compute(tokens, plan, parts.Tokenizer), title, axis).SavePng(args.Out); }
            catch (NotSupportedException e) { throw new CommandException($"{recipe.Name}: {e.Message}"); }
        }
        output.Result(new { recipe = recipe.Name, out_path = Path.GetFullPath(args.Out), count = samples.Count, masked = plan.MaskedCount, tokens = tokens.TokenCount, step = args.Step },
            () => $"wrote {args.Out}: {title}");
        return 0;
    }

    /// <summary>The masker options that matter, in words (from the resolved model options).</summary>
    static string Describe(JobConfig job)
    {
        string Get(string k) => job.Model[k]?.ToString() ?? "";
        string masker = Get("masker");
        if (masker.Length == 0) return "masks";
        string detail = masker switch
        {
            "noise" => $"{Get("noise")} noise",
            "block" => Get("block_tokens") is "0" or "" ? "block" : $"{Get("block_tokens")}-token cubes",
            "guided" => $"guided ({Get("guided_hide")})",
            _ => masker,
        };
        return $"{detail}, ratio {Get("mask_ratio")}" + (Get("mask_schedule") is "linear" or "cosine" ? $"→{Get("mask_ratio_end")} ({Get("mask_schedule")})" : "");
    }
}
