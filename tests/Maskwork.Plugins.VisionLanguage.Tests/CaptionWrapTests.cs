using Maskwork.Plugins.VisionLanguage.Recipes;

namespace Maskwork.Plugins.VisionLanguage.Tests;

public class CaptionWrapTests
{
    [Theory]
    [InlineData("read:  an albino peacock (a white peafowl, or peacock), a bird", 24)]
    [InlineData("guess: [a][male][of][blue][red][per][.][a][male][of][blue][red][per][.]", 20)]
    [InlineData("seen:  a duck.", 48)]
    public void PicturesWrapLongCaptionLinesAtSpacesWithoutLosingAWord(string line, int width)
    {
        var pieces = CaptionRenderer.Wrap(line, width).ToList();
        Assert.All(pieces, p => Assert.True(p.Length <= width, $"'{p}' is longer than {width}"));
        Assert.All(pieces.Skip(1), p => Assert.StartsWith("       ", p));
        Assert.Equal(line.Replace(" ", ""), string.Concat(pieces).Replace(" ", ""));
        Assert.Equal(line.Length <= width, pieces.Count == 1);
        // Where every word fits a piece, no word is broken: the pieces hold the line's words in order.
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.All(w => w.Length <= width - 7))
            Assert.Equal(words, pieces.SelectMany(p => p.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
    }
}
