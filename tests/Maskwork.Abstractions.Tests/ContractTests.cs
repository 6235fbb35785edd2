using System.Text.Json.Nodes;
using Maskwork.Abstractions;
using static TorchSharp.torch;

namespace Maskwork.Abstractions.Tests;

public class ContractTests
{
    [Theory]
    [InlineData("fashion-mnist", "fashion-mnist", "")]
    [InlineData("image-folder:/data/cats", "image-folder", "/data/cats")]
    [InlineData("planetoid:../shared/datasets/graph/cora", "planetoid", "../shared/datasets/graph/cora")]
    [InlineData(" parquet : /x:y ", "parquet", "/x:y")]
    public void Data_specs_parse_reader_and_path(string text, string reader, string path)
    {
        var spec = DataSpec.Parse(text);
        Assert.Equal((reader, path), (spec.Reader, spec.Path));
        Assert.Equal(path.Length == 0 ? reader : $"{reader}:{path}", spec.ToString());
    }

    [Fact]
    public void Empty_data_spec_is_refused() => Assert.ThrowsAny<ArgumentException>(() => DataSpec.Parse(" "));

    [Fact]
    public void Grid_layouts_compare_by_dimensions_and_count_tokens()
    {
        Assert.Equal(new GridLayout([7, 7]), new GridLayout([7, 7]));
        Assert.NotEqual(new GridLayout([7, 7]), new GridLayout([7, 8]));
        Assert.Equal(new GridLayout([2, 3, 4]).GetHashCode(), new GridLayout([2, 3, 4]).GetHashCode());
        Assert.Equal(24, new GridLayout([2, 3, 4]).Count);
        Assert.Equal("grid[2x3x4]", new GridLayout([2, 3, 4]).ToString());
    }

    [Fact]
    public void A_plan_without_masking_shows_every_token()
    {
        var plan = MaskPlan.None(2, 5, CPU);
        Assert.Equal(new long[] { 2, 5 }, plan.Visible.shape);
        Assert.Equal(0, plan.MaskedCount);
        Assert.Equal([0L, 1, 2, 3, 4], plan.Visible[1].data<long>().ToArray());
    }

    [Fact]
    public void Options_round_trip_as_snake_case_json_and_unknown_keys_are_refused()
    {
        var json = OptionsJson.ToJson(new TrainOptions { Steps = 7, BaseLr = 0.5 });
        Assert.Equal(7, (int)json["steps"]!);
        Assert.Equal(0.5, (double)json["base_lr"]!);
        var back = (TrainOptions)OptionsJson.FromJson(json, typeof(TrainOptions));
        Assert.Equal(new TrainOptions { Steps = 7, BaseLr = 0.5 }, back);
        json["no_such_option"] = 1;
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => OptionsJson.FromJson(json, typeof(TrainOptions)));
    }

    [Fact]
    public void Invalid_data_file_exception_names_the_file()
    {
        var e = new InvalidDataFileException("/data/x.png", "truncated");
        Assert.Equal("/data/x.png: truncated", e.Message);
        Assert.Equal(("/data/x.png", "truncated"), (e.File, e.Reason));
    }
}
