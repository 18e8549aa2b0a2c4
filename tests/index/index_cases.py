"""Expression lists run against both libraries by the differential unit tests.

Each string is evaluated with ``ts`` bound to one library and ``np`` to NumPy.
"""

T1 = "ts.IndexTransform(input_shape=[10])"
T_IMPLICIT = ("ts.IndexTransform(input_inclusive_min=[0], input_exclusive_max=[10], "
              "implicit_lower_bounds=[True], implicit_upper_bounds=[True])")  # fmt: skip
T_UNBOUNDED = "ts.IndexTransform(input_rank=1)"
T_ARR = "ts.IndexTransform(input_shape=[2,3], output=[ts.OutputIndexMap(np.array([[5],[6]]))])"
T23 = "ts.IndexTransform(input_shape=[2,3])"
T456 = "ts.IndexTransform(input_shape=[4,5,6])"
T_ORIGIN = "ts.IndexTransform(input_shape=[4,5], input_inclusive_min=[5,0])"
T_LABELED = "ts.IndexTransform(input_shape=[4,5,6,7], input_labels=['a','b','c','d'])"

_KEYS_1D = [
    "[1:8:3]", "[::2]", "[::-1]", "[8:1:-3]", "[-3:]", "[2:2]", "[5:2]", "[:5:-2]", "[3:7:4]", "[15]", "[-1]",
    "[[12,-3]]", "[[[1,2],[3,4]]]", "[[True]*10]", "[[True]*3]", "[np.array(True)]", "[np.array(False)]", "[()]",
    "[1,2]", "[...,...]", "[1.5]", "['a']", "[1:2:0]", "[np.array([1.0])]", "[[12]]", "[[3]]",
    "[np.array([3,3])[None]]", "[..., None]", "[None]", "[3]", "[8:2:-2]", "[:2:-1]", "[8::-1]", "[:5:-1]",
    "[:5:-3]", "[8:2:-1]", "[2:8:2]", "[:8:2]", "[2::2]", "[2::3]", "[:7:3]", "[np.int64(1)]", "[np.bool_(True)]",
    "[True]", "[[]]", "[np.array([], dtype=float)]", "[1:2:None, ...]", "[slice(1.0, 2)]", "[slice(np.int32(1), 2)]",
]  # fmt: skip

_KEYS_2D = [
    "[1]", "[:,1]", "[ts.newaxis]", "[[1,0,1]]", "[:, [1,0,1]]", "[[1,0,1], [1,0,1]]", ".oindex[[1,0,1], [1,0]]",
    "[:, 1:2]", "[1:2, 1:2]", "[[1,0,1], 2]", "[[1,0,1], [2]]", ".oindex[[1,0,1], [2]]", ".vindex[:,[1,0,1]]",
    "[[1]]", "[[True,False]]", ".vindex[[1,0],[1,2,0]]", "[[1,0],[1,2,0]]",
]  # fmt: skip

NUMPY_INDEXING = (
    [t + k for t in (T1, T_IMPLICIT, T_UNBOUNDED) for k in _KEYS_1D]
    + [t + k for t in (T_ARR, T23) for k in _KEYS_2D]
    + [T456 + k for k in ["[[1,0], :, 2]", "[2, :, [1,0]]", "[:, 2, [1,0]]", "[[1,0],None,[1,0]]",
                          "[[1,0],[[1],[0]]]", "[[1,0], 2, [1,0]]", "[:, [1,0], 2]", ".vindex[2, [1,0]]",
                          ".oindex[[[1,0]], 2, [1]]"]]  # fmt: skip
    + [T_ORIGIN + k for k in ["[[True,False,True]]", "[[[True,False],[False,True]]]", "[np.array(True), 6]",
                              "[6,np.array(False)]", "[..., np.array(True)]", "[[[True,False],[False,True]], None]",
                              ".oindex[[True,False,True]]", ".vindex[:, [True,False,True]]",
                              ".oindex[:, [True,False,True]]", ".oindex[[5,6],[1,2,3]]", ".vindex[[5,6],[1,2,3]]",
                              "[7:3:-1]", "[4:9]", "[4:8]"]]  # fmt: skip
    + [f"ts.IndexTransform(input_inclusive_min=[0], input_exclusive_max=[10], implicit_lower_bounds=[{a}], "
       f"implicit_upper_bounds=[{b}]){k}"
       for a, b in [(True, False), (False, True)] for k in ["[8:2:-2]", "[:2:-1]", "[8::-1]", "[:5:-1]", "[2::3]"]]
)

_DIM_KEYS_LABELED = [
    "[[1,0], 2, [1,0]]", "[:, [1,0], 2, [1,0]]", "[ts.d['c','a'][[1,0], [1,0]]]", "[ts.d['c','a'][1:3, 2]]",
    "[ts.d['c','a'][1:3, None, 2]]", "[ts.d['c','a'][[[1,0]], 1:3]]", "[ts.d['c','a'].oindex[[1,0], [1,0]]]",
    "[ts.d['c','a'].vindex[[1,0], [1,0]]]", "[ts.d['c','a'].vindex[1:3, [1,0]]]", "[ts.d['c','b'][[1,0], [1,0]]]",
    "[ts.d['c'][1,2]]", "[ts.d['c'][..., 1]]", "[ts.d['c','d'][..., 1]]", "[ts.d['c','d'][None, ..., 1]]",
    "[ts.d[0][2:5:-1]]", "[ts.d[0][5:2]]", "[ts.d['c','d'][[1,2], 2].label['x']]", "[ts.d['c','d'][None, 2].label['x']]",
    "[ts.d['c','d'][None, None, 2, None].label['x','y','z']]", "[ts.d['c','d'].vindex[[1,0],[1,0]]]",
    "[ts.d['d','b'][[1,0],1:3,]]", "[ts.d['b','d'][[1,0],1:3,]]", "[ts.d['a', 'c', 'd'][[1,0],1:3,[1,0]]]",
    "[ts.d['d', 'c', 'a'][[1,0],1:3,[1,0]]]", "[ts.d[1,3][None, 1:3]]", "[ts.d[3,1][None, 1:3]]",
    "[ts.d[0,4][None, None]]", "[ts.d[0,5][None, None]]", "[ts.d[1:3][[1,2],[1,2]].label['x']]",
    "[ts.d[1:3][1:2, 3:4].label['x','y']]", "[ts.d[1:3][1:2, 3:4].translate_by[1]]",
    "[ts.d['a','d'].translate_to[3].stride[2]]", "[ts.d['b'].diagonal]", "[ts.d['b','d'].diagonal.label['q'][1:3]]",
    "[ts.d[:].transpose[::-1]]", "[ts.d['d'].transpose[0].label['z']]", "[ts.d['x']]", "[ts.d[0].label['b']]",
    "[ts.d[0][[1,2]].translate_to[5]]", "[ts.d[0,1].oindex[[1,2],[3,4]].diagonal]",
    "[ts.d[-1].mark_bounds_implicit[True][2:30]]", "[ts.d[-1].mark_bounds_implicit[:True][2:30]]",
    "[ts.d[-1].mark_bounds_implicit[True:][2:30]]", "[ts.d[0].label['a'][None]]", "[ts.d[0][1:2][None]]",
    "[ts.d[0].translate_by[1][2:3, None]]",
]  # fmt: skip

_DIM_KEYS_RANK2 = [
    "[ts.d[0,0].label['a','b']]", "[ts.d[0,-3].label['a','b']]", "[ts.d[0,2].label['a','b']]", "[ts.d['x'].label['a']]",
    "[ts.d[0:5].label['a']]", "[ts.d[-5:].label['a']]", "[ts.d[5:].label['a']]", "[ts.d[:-5].label['a']]",
    "[ts.d[::-1].label['a','b']]", "[ts.d[2:].label['a']]", "[ts.d[1:-3:-1].label['a','b']]", "[ts.d[0:0].label[()]]",
    "[ts.d[0,1].translate_to[1]]", "[ts.d[0,1].stride[2]]", "[ts.d[0,1].translate_by[2]]", "[ts.d[1].stride[-1]]",
]  # fmt: skip

_DIM_KEYS_SHAPED = [
    "[ts.d[0,1].label['a']]", "[ts.d[0].label['a','b']]", "[ts.d[0,1].translate_by[5]]",
    "[ts.d[0,1].translate_by[5,6,7]]", "[ts.d[0,1].translate_by[None,6]]", "[ts.d[0,1].translate_by[2**62]]",
    "[ts.d[0,1].translate_to[2**62]]", "[ts.d[0,1].translate_backward_by[1,2]]", "[ts.d[0,1].stride[2]]",
    "[ts.d[0,1].stride[0]]", "[ts.d[0].mark_bounds_implicit[True]]", "[ts.d[0].mark_bounds_implicit[:True]]",
    "[ts.d[0].mark_bounds_implicit[True:False]]", "[ts.d[0].mark_bounds_implicit[None]]",
    "[ts.d[0].mark_bounds_implicit[1]]", ".T", ".transpose([1,0])", ".transpose()", ".label['x','y']",
    ".translate_to[1]", ".translate_by[1,2]", ".translate_backward_by[3]", ".mark_bounds_implicit[True]",
    ".oindex[[1,2],[0,3]]", ".vindex[[1,2],[0,3]]",
]  # fmt: skip

_DIM_KEYS_RANK3 = [
    "[ts.d[2].transpose[0]]", "[ts.d[2,0].transpose[1]]", "[ts.d[2,0].transpose[0,1]]", "[ts.d[2,0].transpose[2]]",
    "[ts.d[2,0].transpose[-1]]", "[ts.d[2,0].transpose[0,0]]", "[ts.d[2,0].transpose[0,1,2]]",
    "[ts.d[2,0].transpose[1:]]", "[ts.d[2,0].transpose[...]]", "[ts.d[2,0].diagonal]", "[ts.d[()].diagonal]",
]  # fmt: skip

DIM_EXPRESSIONS = (
    [T_LABELED + k for k in _DIM_KEYS_LABELED]
    + ["ts.IndexTransform(input_rank=2)" + k for k in _DIM_KEYS_RANK2]
    + ["ts.IndexTransform(input_shape=[3,4])" + k for k in _DIM_KEYS_SHAPED]
    + ["ts.IndexTransform(input_shape=[3,4,5])" + k for k in _DIM_KEYS_RANK3]
    + ["ts.IndexTransform(input_shape=[3,4], input_inclusive_min=[1,-5])[ts.d[0,1].stride[-2,3]]",
       "ts.IndexTransform(input_shape=[3,4,5], input_inclusive_min=[1,0,2])[ts.d[0,2].diagonal.label['q']]"]
)

_REPRS = [
    "ts.d[0,0]", "ts.d[1:3, 'x', ...]", "ts.d[ts.d[0,1], 2]", "ts.d[1.5]", "ts.d[None]", "ts.d[[1,2]]", "ts.d[()]",
    "ts.d[0].label['a'].translate_by[3,4].stride[2][1:3, ...].oindex[[1,2]]", "ts.d[0].vindex[[1,2],None]",
    "ts.d[0].transpose[1]", "ts.d[0].diagonal", "ts.d[0].mark_bounds_implicit[True:False]",
    "ts.d[0].mark_bounds_implicit[:True]", "ts.d[0].translate_to[None]",
    "ts.d[0][ts.newaxis, ..., 1:2:3, ::-1, [[True]], ts.d]", "ts.d[0][:]", "ts.d[0][...]", "ts.d[0][()]",
    "ts.d[0]['a']", "ts.d[0].label['a'].label['b']", "ts.d[0].translate_by[1].translate_to[2]", "ts.d['a',1:3, 2:]",
    "ts.d[::-1]", "ts.d[1:3:2]", "ts.d[0].translate_to[1,2]", "ts.d[0].translate_to[(1,)]", "ts.d[0].label['a','b']",
    "ts.d[0].label[('a',)]", "ts.d[0].stride[-1]", "ts.d[0].transpose[1:3, 0]", "ts.d[0].mark_bounds_implicit[True]",
    "ts.d[0].mark_bounds_implicit[False:]", "ts.d[0][1, None, ..., [[1,2]], np.s_[::2]]", "ts.d[0][[1,2]]",
    "ts.d[0][(1,)]", "ts.d[0][1]", "ts.d[0].translate_by[None, 2]", "ts.d[0].translate_by[np.int64(2)]",
    "ts.d[0].translate_to[[1,2]]", "ts.d[0][None]", "ts.d[0][:,None]", "ts.d[0]==ts.d[0]", "ts.d[0]==ts.d[1]",
]  # fmt: skip
DIM_EXPRESSION_REPRS = ["repr(" + r + ")" for r in _REPRS]

_D = "ts.IndexDomain(shape=[5,3], labels=['x','y'])"
DOMAIN_INDEXING = [_D + k for k in [
    "[1]", "['y']", "['z']", "[2]", "[-1]", "[::-1]", "[ts.d['y'].translate_by[2]]", "[1:3]",
    "[ts.IndexDomain(shape=[2,2])]", "[[0]]", "[(0,)]", "[('x',1)]", "[ts.IndexDomain(shape=[6,2])]",
    "[ts.IndexDomain(shape=[2])]", "[ts.IndexDomain(shape=[2,2], labels=['y','x'])]",
    "[ts.IndexDomain(shape=[2], labels=['y'])]", "[ts.IndexTransform(input_rank=2)]",
    "[ts.IndexTransform(input_shape=[2,2])]", "[ts.IndexTransform(input_shape=[2,6])]",
    "[ts.IndexTransform(input_shape=[2])]",
    "[ts.IndexTransform(input_shape=[5], output=[ts.OutputIndexMap(2), ts.OutputIndexMap(input_dimension=0)])]",
    "[ts.d[0]]", "[ts.d[0][1]]", "[ts.d[0].label['x'].translate_to[2]]", "[1,]", "[...]", "[()]", "[1.5]", "[None]",
    "[[0,0]]", ".T", ".label['a','b']", ".translate_to[3]", ".transpose()", ".mark_bounds_implicit[True]",
    "[True]", "[np.int64(0)]",
]]  # fmt: skip

_TRANSFORM_JSON = [
    "{'input_rank':2, 'output':[{'input_dimension':2}]}", "{'input_rank':2, 'output':[{'input_dimension':1, 'offset':'a'}]}",
    "{'input_rank':2, 'output':[{'input_dimension':1, 'index_array':[1]}]}", "{'input_rank':2, 'output':[{'foo':1}]}",
    "{'input_rank':2, 'output':[{'stride':2}]}", "{'input_rank':2, 'output':[{'index_array':[1,2]}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[1,2]}]}", "{'input_shape':[2,3], 'output':[{'index_array':[[1],[2]]}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[[1],[2],[3]]}]}", "{'input_shape':[2,3], 'output':[{'index_array':5}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[[1.5],[2]]}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[[1],[2]], 'index_array_bounds':[5,3]}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[[1],[2]], 'index_array_bounds':[[5],3]}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[[1],[2]], 'index_array_bounds':[3]}]}",
    "{'input_shape':[2,3], 'output':[{'offset':1, 'index_array_bounds':[3,4]}]}", "{'input_shape':[2,3], 'output':5}",
    "{'input_shape':[2,3], 'output':[5]}", "{'input_shape':[2,3]}", "{'output':[{'offset':3}]}", "{}", "{'rank':2}",
    "{'input_rank':2, 'output':[{'input_dimension':-1}]}", "{'input_rank':2, 'output':[{'input_dimension':0, 'offset':2**62}]}",
    "{'input_rank':2, 'output':[{'input_dimension':0, 'stride':2**62}]}", "{'input_rank':2, 'output':[{'offset':2**62-1}]}",
    "{'input_rank':2, 'output':[{'offset':2**62-2}]}", "{'input_rank':1, 'output':[{'input_dimension':0},{'input_dimension':0}]}",
    "{'input_rank':2, 'output':[{'input_dimension':1},{'input_dimension':0}]}",
    "{'input_rank':2, 'output':[{'input_dimension':0, 'stride':0}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[[1],[2]], 'stride':0, 'offset':4}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[[1],[2**62]]}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[[1],[2]], 'index_array_bounds':[0,'+inf']}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[[1],[2]], 'index_array_bounds':[2,2]}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[[1],[2]], 'index_array_bounds':[2,1]}]}",
    "{'input_shape':[2,3], 'output':[{'index_array':[[1],[2]], 'index_array_bounds':['-inf',1]}]}",
    "{'input_shape':[3], 'output':[{'index_array':[1,2,3], 'index_array_bounds':[0,2]}]}", "{'input_rank':1, 'output':[]}",
    "{'input_rank':0}",
    "{'input_inclusive_min':[1,[2]], 'input_exclusive_max':['+inf',[5]], 'input_labels':['x','y'], "
    "'output':[{'input_dimension':1, 'offset':3, 'stride':-2}, {'offset':7}]}",
    "{'input_shape':[0,2], 'output':[{'index_array':[[5]], 'offset':1}]}", "{'input_rank':1, 'extra':1}",
]  # fmt: skip

_OIM = "ts.OutputIndexMap"
TRANSFORMS = ["ts.IndexTransform(json=%s)" % j for j in _TRANSFORM_JSON] + [
    "ts.IndexTransform(input_shape=[3, 2], input_labels=['x',''], output=[ts.OutputIndexMap(offset=7, input_dimension=1), "
    "ts.OutputIndexMap([[1, 2]], offset=2, stride=-1), ts.OutputIndexMap(8), ts.OutputIndexMap([[1, 2]], offset=2, "
    "stride=-1, index_range=ts.Dim(inclusive_min=0, exclusive_max=8)), ts.OutputIndexMap([[1],[2],[3]]), "
    "ts.OutputIndexMap(input_dimension=0, stride=0, offset=3)])",
    "ts.IndexTransform(3)", "ts.IndexTransform(input_rank=0)",
    "ts.IndexTransform(ts.IndexDomain(inclusive_min=[1, 2, 3], exclusive_max=[4, 5, 6]))",
    "ts.IndexTransform(ts.IndexDomain(inclusive_min=[1, 2, 3], exclusive_max=[4, 5, 6]), "
    "output=[ts.OutputIndexMap(offset=7), ts.OutputIndexMap(input_dimension=0)])",
    "ts.IndexTransform([ts.Dim(3, label='a'), ts.Dim(2)])",
    "ts.IndexTransform(input_shape=[2], output=[ts.OutputIndexMap(input_dimension=5)])",
    "ts.IndexTransform(input_shape=[2], output=[ts.OutputIndexMap(index_array=np.array(5), offset=1, stride=2)])",
    "ts.IndexTransform(input_shape=[2], output=[ts.OutputIndexMap(np.array(5), offset=1, stride=2)])",
    "ts.IndexTransform(input_shape=[2], output=[ts.OutputIndexMap(index_array=np.array([5]), offset=1, stride=2, "
    "index_range=ts.Dim(0,3))])",
    "ts.IndexTransform(input_shape=[0,2], output=[ts.OutputIndexMap([[5]], offset=1, stride=2)])",
    "ts.IndexTransform(input_shape=[3,4], output=[ts.OutputIndexMap(np.full((3,1),5))]).output[0].index_array",
    "ts.IndexTransform(input_shape=[3,4], output=[ts.OutputIndexMap(np.full((1,1),5))])",
    "ts.IndexTransform(input_shape=[3], input_labels=['a'], input_inclusive_min=[-4], implicit_upper_bounds=[True])([5])",
    "ts.IndexTransform(input_shape=[3], input_labels=['a'], input_inclusive_min=[-4], implicit_upper_bounds=[True])([-5])",
    "ts.IndexTransform(input_shape=[3], input_labels=['a'], input_inclusive_min=[-4], implicit_upper_bounds=[True])([1,2])",
    "ts.IndexTransform(input_shape=[3], output=[ts.OutputIndexMap([4,5,6], index_range=ts.Dim(0,5))])([1])",
    "ts.IndexTransform(input_shape=[3], output=[ts.OutputIndexMap([4,5,6], index_range=ts.Dim(0,5))])([0])",
    "ts.IndexTransform(input_rank=2, input_shape=[3])", "ts.IndexTransform(input_shape=[3], input_exclusive_max=[3])",
    "ts.IndexTransform(input_shape=[3], implicit_lower_bounds=[True, False])", "ts.IndexTransform(input_labels=['a','a'])",
    "ts.IndexTransform()",
    "ts.OutputIndexMap(input_dimension=1)==ts.OutputIndexMap(input_dimension=1)",
    "ts.OutputIndexMap(3)==ts.OutputIndexMap(input_dimension=3)", "repr(ts.OutputIndexMap([5]))",
    "repr(ts.OutputIndexMap(input_dimension=0,stride=0))", "repr(ts.OutputIndexMap([[]]))",
    "repr(ts.OutputIndexMap(np.arange(3)+0.5))", "str(ts.OutputIndexMethod.array)", "repr(ts.OutputIndexMethod.array)",
    "repr(ts.IndexTransform(input_shape=[2,3]).output)", "ts.IndexTransform(input_shape=[2,3]).output.rank",
    "ts.IndexTransform(input_shape=[2,3]) == ts.IndexTransform(input_shape=[2,3])",
]

COMPOSITION = [
    f"ts.IndexTransform(input_shape=[3])[{x}]" for x in [
        "ts.IndexTransform(input_shape=[5])", "ts.IndexTransform(input_rank=1)",
        "ts.IndexTransform(input_shape=[2], output=[ts.OutputIndexMap([1,7])])", "ts.IndexTransform(input_rank=2)",
        "ts.IndexTransform(input_shape=[5], output=[ts.OutputIndexMap(7)])"]
] + [
    f"ts.IndexTransform(input_inclusive_min=[0], input_exclusive_max=[10], implicit_upper_bounds=[True])[{x}]" for x in [
        "ts.IndexTransform(input_rank=1)", "ts.IndexTransform(input_inclusive_min=[3], implicit_lower_bounds=[True])",
        "ts.IndexTransform(input_rank=1, output=[ts.OutputIndexMap(input_dimension=0, stride=-2, offset=3)])"]
] + [
    "ts.IndexTransform(input_shape=[10])[[12]]", "ts.IndexTransform(input_shape=[10])[[[12]]]",
    # An input dimension read by several maps gets the intersection of the implied bounds.
    "ts.IndexTransform(input_shape=[9,7])[ts.IndexTransform(input_rank=1, output=[ts.OutputIndexMap(input_dimension=0), "
    "ts.OutputIndexMap(input_dimension=0)])]",
    "ts.IndexTransform(input_shape=[9,7], implicit_upper_bounds=[True,False])[ts.IndexTransform(input_rank=1, "
    "output=[ts.OutputIndexMap(input_dimension=0), ts.OutputIndexMap(input_dimension=0)])]",
    "ts.IndexTransform(input_shape=[9,7])[ts.IndexTransform(input_shape=[8], output=[ts.OutputIndexMap(input_dimension=0), "
    "ts.OutputIndexMap(input_dimension=0)])]",
    "ts.IndexTransform(input_shape=[2], output=[ts.OutputIndexMap([4,5], index_range=ts.Dim(0,5))])[[1]]",
    "ts.IndexTransform(input_shape=[2], output=[ts.OutputIndexMap([4,5], index_range=ts.Dim(0,5))])[[1,1]]",
    "ts.IndexTransform(input_shape=[2], output=[ts.OutputIndexMap([4,5], index_range=ts.Dim(0,5))])[1]",
    "ts.IndexTransform(input_shape=[2], output=[ts.OutputIndexMap([4,5], index_range=ts.Dim(0,5))])[0]",
]
