using System.ComponentModel.DataAnnotations;

namespace Maskwork.Host;

/// <summary>Host settings: section "Maskwork" of appsettings.json, MASKWORK__* environment variables.</summary>
public sealed class MaskworkOptions
{
    /// <summary>Extra folders to search for plugins (besides plugins/ next to the executable and --plugins).</summary>
    public List<string> PluginFolders { get; set; } = [];

    /// <summary>Where runs go when --out is not given.</summary>
    [Required, MinLength(1)]
    public string RunsRoot { get; set; } = "runs";

    /// <summary>Stop at the first unusable input file instead of skipping and counting it.</summary>
    public bool FailOnBadInput { get; set; }

    /// <summary>
    /// A libtorch already on this machine to use instead of the packaged CPU one, e.g. a PyTorch install's
    /// torch/lib with libtorch_cuda.so (DESIGN.md section 7). Also MASKWORK__LIBTORCH. Null: the packaged libtorch.
    /// </summary>
    public string? Libtorch { get; set; }

    /// <summary>A libLibTorchSharp.so rebuilt for the Libtorch folder's version (build/build-libtorchsharp.sh); default: the folder's own, else the packaged one. Also MASKWORK__LIBTORCHSHIM.</summary>
    public string? LibtorchShim { get; set; }

    /// <summary>Intra-op threads for libtorch; 0 = one per core.</summary>
    [Range(0, 1024)]
    public int Threads { get; set; }
}
