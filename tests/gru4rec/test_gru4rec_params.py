"""Official -ps parameter strings: types, lists, booleans, layersize, unknown names."""

import pytest

from tfmodels.models.gru4rec.params import GRU4RecParams, params_from_string, parse_param_string


def test_official_string():
    p = params_from_string(
        "layers=224,batch_size=80,dropout_p_embed=0.5,dropout_p_hidden=0.05,learning_rate=0.05,"
        "momentum=0.4,n_sample=2048,sample_alpha=0.4,bpreg=1.95,logq=0.0,loss=bpr-max,"
        "constrained_embedding=True,elu_param=0.5,n_epochs=10")
    assert p.layers == [224] and p.batch_size == 80 and p.loss == "bpr-max"
    assert p.constrained_embedding is True and p.bpreg == 1.95 and p.momentum == 0.4
    assert p.effective_final_act == "elu-0.5"


def test_defaults_are_the_official_ones():
    p = GRU4RecParams()
    assert (p.layers, p.loss, p.batch_size, p.learning_rate, p.momentum) == (
        [100], "cross-entropy", 64, 0.05, 0.0)
    assert (p.n_sample, p.sample_alpha, p.bpreg, p.elu_param, p.logq) == (2048, 0.5, 1.0, 0.5, 0)
    assert p.constrained_embedding is True and p.embedding == 0 and p.n_epochs == 10


def test_lists_booleans_and_layersize():
    assert params_from_string("layers=100/50").layers == [100, 50]
    assert params_from_string("layers=100,100,loss=top1").layers == [100, 100]
    assert params_from_string("constrained_embedding=0").constrained_embedding is False
    p = params_from_string("layers=64/32,constrained_embedding=False,embedding=layersize")
    assert p.embedding == 64
    assert parse_param_string("loss=bpr,layers=10/20") == {"loss": "bpr", "layers": "10/20"}
    assert params_from_string("loss=top1,final_act=leaky-0.1").effective_final_act == "leaky-0.1"
    assert GRU4RecParams.from_json(p.to_json()) == p


@pytest.mark.parametrize("text,match", [
    ("lossx=bpr-max", "unknown GRU4Rec parameter 'lossx'"),
    ("loss=bpr-max,n_samples=10", "unknown GRU4Rec parameter 'n_samples'"),
    ("loss=hinge", "loss must be one of"),
    ("constrained_embedding=yes", "invalid value 'yes'"),
    ("batch_size=3.5", "invalid value '3.5'"),
    ("layers=100,loss", "bad parameter string token"),
    ("dropout_p_hidden=1.0", "drop probability"),
    ("loss=bpr-max,logq=1", "logq is only defined"),
    ("loss=cross-entropy,final_act=relu", "always uses a softmax"),
    ("loss=top1,final_act=swish", "final_act must be"),
])
def test_bad_parameters(text, match):
    with pytest.raises(ValueError, match=match):
        params_from_string(text)
